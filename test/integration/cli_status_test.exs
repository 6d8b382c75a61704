# `clusterd status` as a person reads it: the text view by default (JSON with
# --json is covered in status_test.exs), --coordinator NODE, and the view
# after a member is lost.
defmodule Clusterd.CliStatusTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "text view: verdict, members, actions; then a lost member as unreachable", ctx do
    [a, b, c] = members = H.start_erl_nodes(ctx, ~w(s1 s2 s3), connect_all: false)
    config = H.write_config(ctx, hosts: members)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    args = ["status", "--coordinator", "#{h.node}", "--cookie-file", ctx.cookie_file]

    {:ok, r} =
      H.wait_until(20_000, fn ->
        r = H.run_cli(ctx, args)
        r.status == 0 and r.out =~ "FULL MESH" and r
      end)

    assert r.out =~ ~r/^coordinator #{Regex.escape(to_string(h.node))}: FULL MESH$/m, r.out
    assert r.out =~ ~r/^topology test \(Cluster.Strategy.Epmd\): 3 members$/m, r.out
    for m <- members, do: assert(r.out =~ ~r/^  #{Regex.escape(to_string(m))}\s+up\s+sees 2$/m)
    assert r.out =~ ~r/^action: connect on \S+ -> \S+: /m, r.out

    # the JSON agrees
    j = JSON.decode!(H.run_cli(ctx, args ++ ["--json"]).out)
    assert j["full_mesh"] == true

    H.kill_node(ctx, c)

    {:ok, r} =
      H.wait_until(20_000, fn ->
        r = H.run_cli(ctx, args)
        r.out =~ "NOT a full mesh" and r.out =~ "unreachable: #{c}" and r
      end)

    assert r.status == 0
    assert r.out =~ ~r/^unreachable: #{Regex.escape(to_string(c))}: .+$/m, r.out
    assert H.peer?(a, b)
  end
end
