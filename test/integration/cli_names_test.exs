# `clusterd names [HOST]`: EPMD's names on any host, honouring ERL_EPMD_PORT.
defmodule Clusterd.CliNamesTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Epmd, Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "lists every registered name with its port, as EPMD reports them", ctx do
    H.start_erl_nodes(ctx, ~w(q1 q2))
    {:ok, names} = Epmd.names(ctx.epmd_port)
    expected = names |> Enum.map(fn {n, p} -> {to_string(n), p} end) |> Enum.sort()
    assert length(expected) == 2

    for args <- [["names"], ["names", "127.0.0.1"], ["names", "localhost"]] do
      r = H.run_cli(ctx, args)
      assert r.status == 0, r.err
      assert r.out =~ ~r/^epmd on .*:#{ctx.epmd_port}: 2 names$/m, r.out
      for {n, p} <- expected, do: assert(r.out =~ ~r/^\s+#{n}\s+port #{p}$/m, r.out)
    end

    j = JSON.decode!(H.run_cli(ctx, ["names", "127.0.0.1", "--json"]).out)
    assert j["host"] == "127.0.0.1"
    assert j["epmd_port"] == ctx.epmd_port
    got = j["names"] |> Enum.map(&{&1["name"], &1["port"]}) |> Enum.sort()
    assert got == expected
  end

  test "exit 1 when no EPMD answers; 2 for a bad host", ctx do
    r = H.run_cli(ctx, ["names", "127.0.0.1"], env: [{"ERL_EPMD_PORT", "#{H.free_port()}"}])
    assert r.status == 1
    assert r.err =~ "no EPMD listening"
    assert H.run_cli(ctx, ["names", "bad host!"]).status == 2
  end
end
