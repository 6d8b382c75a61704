# Fail static: a discovery source that stops answering never disconnects
# anything. Only a successful answer that lacks a member removes it.
defmodule Clusterd.FailStaticTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H
  alias Clusterd.Procs

  setup context, do: {:ok, H.setup_test(context)}

  test "LocalEpmd: EPMD stops answering for several polls; the mesh is untouched", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    topo = [{"local", "Cluster.Strategy.LocalEpmd", [polling_interval: 300]}]
    h = H.start_clusterd(ctx, H.write_config(ctx, topologies: topo), args: ["-v"])
    H.wait_for_full_mesh(ctx, members)

    # The members' own connections survive their EPMD going away; only
    # discovery (NAMES on this host's EPMD) starts failing.
    Procs.signal(ctx.epmd_pid, "KILL")
    H.wait_for_log(ctx, h, ~r/level=warn msg="discovery failed; keeping the last good members"/)

    # Several more failed polls: nothing may be cut.
    Process.sleep(2_000)
    failures =
      H.clusterd_log(h)
      |> String.split("\n")
      |> Enum.count(&String.contains?(&1, "discovery failed"))

    assert failures >= 2, "expected repeated failed polls:\n" <> H.clusterd_logs_tail(ctx)

    warns =
      H.clusterd_log(h)
      |> String.split("\n")
      |> Enum.count(&(&1 =~ ~r/level=warn msg="discovery failed/))

    assert warns == 1, "an unchanged failure is logged at warn once, then at debug"
    assert H.full_mesh?(members), "a failing source cut links:\n" <> H.mesh_report(members)
    refute H.clusterd_log(h) =~ "member left",
           "a failed answer removed a member:\n" <> H.clusterd_logs_tail(ctx)
    assert H.running?(h)
  end
end
