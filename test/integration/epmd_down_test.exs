# EPMD down on one host (pod-like hosts of test/support/pods.exs, each with
# its own epmd): the links already up stay up; once the host's node is gone
# too, clusterd's look-ups there fail (retried with backoff) while members on
# the other hosts are still served; when the host's epmd and node come back
# the node is meshed.
defmodule Clusterd.EpmdDownTest do
  use ExUnit.Case, async: false
  alias Clusterd.Pods
  alias Clusterd.Harness, as: H

  setup context do
    {:ok, ctx: context |> H.setup_test() |> Map.put(:netns_prefix, "cdflt")}
  end

  test "EPMD down on a host: the others are served, the host's member is meshed when it is back",
       %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..4, do: Pods.start_pod!(ctx, net, "app", connect_all: false)
    members = Enum.map(pods, & &1.node)
    [a, b, c, d] = members
    p4 = List.last(pods)

    config =
      H.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        hosts: members,
        reconcile_extra: ["  backoff_min: 200", "  backoff_max: 1000"]
      )

    h = Pods.start_clusterd!(ctx, net, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    # The host's epmd dies: links that are up do not need it.
    Pods.kill_epmd(ctx, p4)
    true = :erpc.call(a, :erlang, :disconnect_node, [b], 5000)
    H.wait_for_full_mesh(ctx, members)
    assert H.peer?(d, h.node, :hidden)

    # Then its node: clusterd can no longer even look it up...
    Pods.kill_node(ctx, p4)
    H.wait_for_log(ctx, h, ~r/app@#{Regex.escape(p4.ip)}.*(EPMD|epmd|refused)/)
    # ...and still serves the other hosts.
    true = :erpc.call(b, :erlang, :disconnect_node, [c], 5000)
    H.wait_for_full_mesh(ctx, [a, b, c])

    # The host comes back: epmd, then the node under the same name.
    Pods.start_epmd(ctx, p4)
    Pods.start_node(ctx, p4)
    H.wait_for_full_mesh(ctx, members, 30_000)
    H.wait_for_hidden_peer(ctx, members, h.node)
    assert H.running?(h)
  end
end
