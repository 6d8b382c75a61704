# `clusterd mesh`: who sees whom, judged against what the observer itself
# asks every member; the verdict in text and every JSON field.
defmodule Clusterd.CliMeshTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  defp s(nodes), do: nodes |> Enum.map(&to_string/1) |> Enum.sort()

  defp connect!(a, b) do
    true = :erpc.call(a, :net_kernel, :connect_node, [b], 10_000)
  end

  defp mesh(ctx, nodes, extra \\ []) do
    H.run_cli(
      ctx,
      ["mesh", "--nodes", Enum.join(nodes, ","), "--cookie-file", ctx.cookie_file] ++ extra
    )
  end

  defp mesh_json(ctx, nodes) do
    r = mesh(ctx, nodes, ["--json"])
    {r, JSON.decode!(r.out)}
  end

  test "a healthy mesh: exit 0, FULL MESH, every JSON field as the members report it", ctx do
    members = H.start_erl_nodes(ctx, ~w(m1 m2 m3), connect_all: false)
    [a, b, c] = members
    connect!(a, b)
    connect!(a, c)
    connect!(b, c)
    H.wait_for_full_mesh(ctx, members)

    r = mesh(ctx, members)
    assert r.status == 0, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ ~r/^FULL MESH: 3 nodes, 3 links$/m, r.out
    # the matrix: one row per node, a + for every peer
    for m <- members, do: assert(r.out =~ ~r/#{Regex.escape(to_string(m))}\s+[.+]\s+[.+]\s+[.+]\s/)
    refute r.out =~ "\e[", "colours when stdout is not a terminal:\n#{r.out}"

    {r, j} = mesh_json(ctx, members)
    assert r.status == 0
    assert j["full_mesh"] == true
    assert j["nodes"] == s(members)
    assert j["missing"] == []
    assert j["unreachable"] == []
    assert j["cookie_rejected"] == []
    assert j["partitions"] == [s(members)]

    for m <- members do
      {:ok, seen} = H.nodes_of(m)
      assert j["seen"][to_string(m)] == s(seen), "seen[#{m}]: #{inspect(j["seen"])}"
      release = :erpc.call(m, :erlang, :system_info, [:otp_release])
      assert j["otp_release"][to_string(m)] == to_string(release)
      assert j["net_ticktime"][to_string(m)] == :erpc.call(m, :net_kernel, :get_net_ticktime, [])
      # our own CLI node is not reported among the hidden peers
      refute Enum.any?(j["hidden"][to_string(m)], &String.starts_with?(&1, "clusterd-cli"))
    end

    assert j["mismatches"] == %{"otp_release" => false, "net_ticktime" => false}

    # The same through -c FILE: the config's topology discovered once.
    config = H.write_config(ctx, hosts: members)
    r = H.run_cli(ctx, ["mesh", "-c", config, "--json"])
    assert r.status == 0, r.err
    assert JSON.decode!(r.out)["nodes"] == s(members)
  end

  test "a deliberate partition into two groups: exit 1, the partitions and missing links",
       ctx do
    [a, b, c, d] = members = H.start_erl_nodes(ctx, ~w(p1 p2 p3 p4), connect_all: false)
    connect!(a, b)
    connect!(c, d)

    {:ok, _} =
      H.wait_until(10_000, fn -> H.peer?(a, b) and H.peer?(c, d) and not H.peer?(a, c) end)

    r = mesh(ctx, members)
    assert r.status == 1, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ ~r/^NOT a full mesh: 4 of 6 links missing$/m, r.out
    assert r.out =~ ~r/^partitions: 2$/m, r.out
    assert r.out =~ "missing link: #{a} <-> #{c}"

    {r, j} = mesh_json(ctx, members)
    assert r.status == 1
    assert j["full_mesh"] == false
    assert Enum.sort(j["partitions"]) == Enum.sort([s([a, b]), s([c, d])])
    expected_missing = for x <- [a, b], y <- [c, d], do: s([x, y])
    assert Enum.sort(j["missing"]) == Enum.sort(expected_missing)
    assert j["unreachable"] == []
    assert j["seen"][to_string(a)] == [to_string(b)]
    assert j["seen"][to_string(d)] == [to_string(c)]
  end

  test "an unreachable node, a node with another cookie, a node with another net_ticktime",
       ctx do
    [a, b] = H.start_erl_nodes(ctx, ~w(u1 u2), connect_all: false)
    other = H.start_erl(ctx, "u3", cookie: H.random_cookie())
    slow = H.start_erl(ctx, "u4", args: ["-kernel", "net_ticktime", "20"], connect_all: false)
    connect!(a, b)
    connect!(a, slow)
    connect!(b, slow)
    ghost = :"ghost@127.0.0.1"
    nodes = [a, b, other, slow, ghost]
    {:ok, _} = H.wait_until(10_000, fn -> H.peer?(b, slow) and H.peer?(a, slow) end)

    r = mesh(ctx, nodes)
    assert r.status == 1, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ "NOT a full mesh", r.out
    assert r.out =~ ~r/^unreachable: #{Regex.escape(to_string(other))}: COOKIE REJECTED/m, r.out
    assert r.out =~ ~r/^unreachable: #{Regex.escape(to_string(ghost))}: name 'ghost' is not registered/m
    assert r.out =~ ~r/^warning: net_ticktime differs: 60 on .*; 20 on #{Regex.escape(to_string(slow))}$/m,
           r.out

    {_, j} = mesh_json(ctx, nodes)
    assert j["full_mesh"] == false
    assert Enum.sort(j["unreachable"]) == s([other, ghost])
    assert j["cookie_rejected"] == [to_string(other)]
    assert j["errors"][to_string(other)]["reason"] == "cookie_rejected"
    assert j["errors"][to_string(ghost)]["reason"] == "not_registered"
    assert j["net_ticktime"][to_string(slow)] == 20
    assert j["net_ticktime"][to_string(a)] == 60
    assert j["mismatches"]["net_ticktime"] == true
    assert j["mismatches"]["otp_release"] == false
    # a, b and slow see each other; the unreachable ones are seen by nobody
    assert j["partitions"] == [s([a, b, slow])]
    assert s([a, other]) in j["missing"]
    refute s([a, b]) in j["missing"]
  end

  test "usage errors exit 2", ctx do
    assert H.run_cli(ctx, ["mesh"]).status == 2
    assert H.run_cli(ctx, ["mesh", "--nodes", "not a node"]).status == 2
    r = H.run_cli(ctx, ["mesh", "--nodes", "a@127.0.0.1", "--cookie", "x"])
    assert r.status == 2
    assert r.err =~ "never taken on the command line"
  end
end
