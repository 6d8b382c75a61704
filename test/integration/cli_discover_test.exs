# `clusterd discover`: each topology's members and the strategy's evidence,
# errors with their cause; connects to nothing.
defmodule Clusterd.CliDiscoverTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Epmd, Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "members and evidence per topology; a failing source is exit 1 with its cause", ctx do
    members = H.start_erl_nodes(ctx, ~w(d1 d2), connect_all: false)
    {:ok, names} = Epmd.names(ctx.epmd_port)
    hosts_file = Path.join(ctx.dir, "hosts.erlang")
    # nothing listens on 127.0.0.3 at our EPMD port: the round fails
    File.write!(hosts_file, "'127.0.0.3'.\n")

    config =
      H.write_config(ctx,
        topologies: [
          {"static", "Cluster.Strategy.Epmd", [hosts: Enum.map(members, &to_string/1)]},
          {"local", "local_epmd", []},
          {"far", "erlang_hosts", [hosts_file: hosts_file]}
        ]
      )

    r = H.run_cli(ctx, ["discover", "-c", config])
    assert r.status == 1, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ ~r/^topology static \(Cluster.Strategy.Epmd\): 2 members$/m, r.out
    assert r.out =~ ~r/^topology local \(Cluster.Strategy.LocalEpmd\): 2 members$/m, r.out
    assert r.out =~ ~r/^topology far \(Cluster.Strategy.ErlangHosts\): FAILED: .+$/m, r.out
    for m <- members, do: assert(r.out =~ "#{m}: listed in hosts")

    r = H.run_cli(ctx, ["discover", "-c", config, "--json"])
    assert r.status == 1
    t = JSON.decode!(r.out)["topologies"]
    expected = members |> Enum.map(&to_string/1) |> Enum.sort()

    assert t["static"]["strategy"] == "Cluster.Strategy.Epmd"
    assert t["static"]["members"] == expected
    assert t["static"]["error"] == nil
    assert length(t["static"]["evidence"]) == 2

    assert t["local"]["strategy"] == "Cluster.Strategy.LocalEpmd"
    assert t["local"]["members"] == expected
    assert t["local"]["error"] == nil
    # the evidence names every EPMD entry with its port
    for {n, p} <- names,
        do: assert(Enum.any?(t["local"]["evidence"], &(&1 =~ "#{n}" and &1 =~ "#{p}")))

    assert t["far"]["strategy"] == "Cluster.Strategy.ErlangHosts"
    assert t["far"]["members"] == []
    assert is_binary(t["far"]["error"]) and t["far"]["error"] != ""
    assert Enum.any?(t["far"]["evidence"], &(&1 =~ "127.0.0.3")), inspect(t["far"])

    # discover connects to nothing: no member saw a hidden peer
    for m <- members do
      {:ok, hidden} = H.nodes_of(m, :hidden)
      refute Enum.any?(hidden, &String.starts_with?(to_string(&1), "clusterd")), inspect(hidden)
    end

    # only answering sources: exit 0
    ok = H.write_config(ctx, file: "ok.yaml", hosts: members)
    assert H.run_cli(ctx, ["discover", "-c", ok]).status == 0
  end

  test "a bad config is exit 2 with the error; -c is required", ctx do
    bad = Path.join(ctx.dir, "bad.yaml")
    File.write!(bad, "topologies:\n  x:\n    strategy: nope\n")
    r = H.run_cli(ctx, ["discover", "-c", bad])
    assert r.status == 2
    assert r.err =~ "bad.yaml:3:"
    assert H.run_cli(ctx, ["discover"]).status == 2
  end
end
