# `clusterd connect A B` / `disconnect A B`: one action on A, with the result.
defmodule Clusterd.CliConnectTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "connect and disconnect two nodes; refusals and errors", ctx do
    [a, b] = H.start_erl_nodes(ctx, ~w(k1 k2), connect_all: false)
    other = H.start_erl(ctx, "k3", cookie: H.random_cookie())
    cf = ["--cookie-file", ctx.cookie_file]
    refute H.peer?(a, b)

    r = H.run_cli(ctx, ["connect", "#{a}", "#{b}"] ++ cf)
    assert r.status == 0, r.out <> r.err
    assert r.out =~ "done: #{a} is connected to #{b}"
    assert H.peer?(a, b) and H.peer?(b, a)

    r = H.run_cli(ctx, ["disconnect", "#{a}", "#{b}", "--json"] ++ cf)
    assert r.status == 0, r.out <> r.err

    assert JSON.decode!(r.out) == %{
             "action" => "disconnect",
             "on" => "#{a}",
             "target" => "#{b}",
             "result" => "done",
             "reply" => "true",
             "error" => nil
           }

    {:ok, _} = H.wait_until(5_000, fn -> H.not_peer?(a, b) end)

    # A cannot reach B (another cookie): refused, exit 1
    r = H.run_cli(ctx, ["connect", "#{a}", "#{other}", "--json"] ++ cf)
    assert r.status == 1, r.out <> r.err
    j = JSON.decode!(r.out)
    assert j["result"] == "refused"
    assert j["reply"] == "false"

    # A itself unreachable: exit 2 with the reason
    r = H.run_cli(ctx, ["connect", "#{other}", "#{a}"] ++ cf)
    assert r.status == 2
    assert r.err =~ "cookie does not match"
    r = H.run_cli(ctx, ["connect", "ghost@127.0.0.1", "#{a}"] ++ cf)
    assert r.status == 2
    assert r.err =~ "not registered"
    assert H.run_cli(ctx, ["connect", "#{a}"] ++ cf).status == 2
  end
end
