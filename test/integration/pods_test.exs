# The pod-like hosts of test/support/pods.exs, and clusterd meshing them:
# each node in its own network namespace with its own epmd on 4369, named
# app@<pod address>, clusterd in a coordinator namespace of its own. Other
# suites (DNS, Kubernetes API) build on this.
defmodule Clusterd.PodsTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, Pods}

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  test "pods are separate hosts with their own address, epmd on 4369 and node name", %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..2, do: Pods.start_pod!(ctx, net, "app")
    [a, b] = pods

    assert a.ip != b.ip
    assert a.node == :"app@#{a.ip}"
    assert b.node == :"app@#{b.ip}"

    # Each pod's epmd lists only its own node (as in a real pod).
    for p <- pods do
      {:ok, addr} = :inet.parse_address(String.to_charlist(p.ip))
      assert {:ok, [{"app", _port}]} = Clusterd.Epmd.names(4369, 2000, addr)
    end

    # Nothing connects them until someone asks.
    assert Harness.nodes_of(a.node) == {:ok, []}
    assert :erpc.call(a.node, :net_kernel, :connect_node, [b.node], 5000)
    Harness.wait_for_full_mesh(ctx, [a.node, b.node])
  end

  test "clusterd in its own namespace meshes three pods and heals a killed one", %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..3, do: Pods.start_pod!(ctx, net, "app", connect_all: false)
    members = Enum.map(pods, & &1.node)

    config =
      Harness.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        hosts: members
      )

    h = Pods.start_clusterd!(ctx, net, config)
    Harness.wait_for_full_mesh(ctx, members)
    Harness.wait_for_hidden_peer(ctx, members, h.node)

    # A pod's node dies and comes back under the same name: meshed again.
    [p1 | _] = pods
    Pods.kill_node(ctx, p1)
    Pods.start_node(ctx, p1)
    Harness.wait_for_full_mesh(ctx, members)
  end

  test "an IPv6 pod is named app@<ipv6 address> and meshed over IPv6", %{ctx: ctx} do
    net = Pods.network!(ctx)
    pods = for _ <- 1..2, do: Pods.start_pod!(ctx, net, "app", ipv6: true, connect_all: false)
    members = Enum.map(pods, & &1.node)
    for p <- pods, do: assert(p.node == :"app@#{p.ip6}")

    assert :erpc.call(hd(members), :net_kernel, :connect_node, [List.last(members)], 5000)
    Harness.wait_for_full_mesh(ctx, members)
  end
end
