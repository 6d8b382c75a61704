# `clusterd ping`: EPMD lookup, handshake and RPC round-trip with timings, and
# a precise reason for each way it can fail.
defmodule Clusterd.CliPingTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Epmd, Harness, JSON, SilentListener}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "answers with timings; each failure with its reason", ctx do
    [a, b] = H.start_erl_nodes(ctx, ~w(g1 g2))
    other = H.start_erl(ctx, "g3", cookie: H.random_cookie())
    ghost = :"ghost@127.0.0.1"
    # a name registered in EPMD whose port nobody listens on (a stale entry)
    closed_port = H.free_port()
    {:ok, stale_sock} = Epmd.register(ctx.epmd_port, "stale", closed_port)
    stale = :"stale@127.0.0.1"
    # a listener that accepts and never speaks: the handshake can only time out
    silent = SilentListener.start(ctx.epmd_port, "silent")

    all = [a, b, other, ghost, stale, silent.node]
    args = ["ping" | Enum.map(all, &to_string/1)] ++ ["--cookie-file", ctx.cookie_file]
    args = args ++ ["--timeout", "2000"]

    r = H.run_cli(ctx, args)
    assert r.status == 1, "exit #{r.status}\n#{r.out}\n#{r.err}"

    for n <- [a, b],
        do:
          assert(
            r.out =~
              ~r/^#{Regex.escape(to_string(n))}\s+pong\s+epmd [\d.]+ ms \(port \d+\)\s+handshake [\d.]+ ms\s+rpc [\d.]+ ms$/m,
            r.out
          )

    assert r.out =~ ~r/^#{Regex.escape(to_string(other))}\s+pang\s+cookie_rejected: .*cookie does not match/m
    assert r.out =~ ~r/^ghost@127.0.0.1\s+pang\s+not_registered: name 'ghost' is not registered/m
    assert r.out =~ ~r/^stale@127.0.0.1\s+pang\s+port_closed: port #{closed_port} /m, r.out
    assert r.out =~ ~r/^silent@127.0.0.1\s+pang\s+timeout: /m, r.out

    j = JSON.decode!(H.run_cli(ctx, args ++ ["--json"]).out)["nodes"]
    {:ok, names} = Epmd.names(ctx.epmd_port)

    for n <- [a, b] do
      e = j[to_string(n)]
      assert e["ok"] == true
      assert e["reason"] == "ok"
      assert e["error"] == nil
      [short, _] = String.split(to_string(n), "@")
      assert {short, e["port"]} in Enum.map(names, fn {nm, p} -> {to_string(nm), p} end)
      for k <- ~w(epmd_ms handshake_ms rpc_ms), do: assert(is_number(e[k]) and e[k] >= 0, k)
    end

    assert j[to_string(other)]["reason"] == "cookie_rejected"
    assert j[to_string(other)]["ok"] == false
    assert j["ghost@127.0.0.1"]["reason"] == "not_registered"
    assert j["ghost@127.0.0.1"]["port"] == nil
    assert j["stale@127.0.0.1"]["reason"] == "port_closed"
    assert j["stale@127.0.0.1"]["port"] == closed_port
    assert j["silent@127.0.0.1"]["reason"] == "timeout"
    :gen_tcp.close(stale_sock)

    # only good nodes: exit 0
    r = H.run_cli(ctx, ["ping", to_string(a), to_string(b), "--cookie-file", ctx.cookie_file])
    assert r.status == 0, r.out <> r.err
  end

  test "no EPMD on the host", ctx do
    r =
      H.run_cli(ctx, ["ping", "a@127.0.0.1", "--cookie-file", ctx.cookie_file, "--json"],
        env: [{"ERL_EPMD_PORT", "#{H.free_port()}"}]
      )

    assert r.status == 1
    e = JSON.decode!(r.out)["nodes"]["a@127.0.0.1"]
    assert e["reason"] == "no_epmd"
    assert e["error"] =~ "no EPMD listening"
  end
end
