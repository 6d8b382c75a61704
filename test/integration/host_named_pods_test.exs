# Pod-like nodes named by a host name (app@web-N.pods.test, from hosts files)
# rather than by address, meshed by clusterd (Epmd strategy) from its own
# namespace, where the machine's own host name resolves only through a DNS
# server that never answers: clusterd's handshakes must not wait on it.
#
# erl_interface draws every handshake challenge from gethostid(), which in
# glibc resolves the machine's host name when /etc/hostid is absent; with a
# hosts file that lacks that name and a silent resolver, the reply went out
# ~10 s late, the node (net_setuptime 7 s) had closed, and clusterd reported
# "the cookie does not match" (c_src/hostid.h).
defmodule Clusterd.HostNamedPodsTest do
  use ExUnit.Case, async: false

  alias Clusterd.{Harness, Pods}

  setup context do
    {:ok, ctx: Harness.setup_test(context)}
  end

  # A DNS server that receives and never answers (the socket lives as long
  # as the test process).
  defp silent_dns!(net) do
    {:ok, addr} = :inet.parse_address(String.to_charlist(net.gateway))
    {:ok, sock} = :gen_udp.open(53, [:binary, ip: addr, active: false])
    sock
  end

  test "pods named by host name mesh, with the coordinator's resolver silent", %{ctx: ctx} do
    net = Pods.network!(ctx)
    _dns = silent_dns!(net)
    hosts = for i <- 0..2, do: {"web-#{i}.pods.test", "#{net.prefix4}.#{11 + i}"}

    pods =
      for {h, _} <- hosts,
          do: Pods.start_pod!(ctx, net, "app", host: h, etc_hosts: hosts, connect_all: false)

    assert Enum.map(pods, & &1.ip) == Enum.map(hosts, &elem(&1, 1))

    # The pods' names in clusterd's hosts file; anything else (the
    # machine's own name) goes to the silent server, for longer than the
    # nodes' net_setuptime.
    Pods.put_etc(
      net.coordinator_ns,
      "hosts",
      "127.0.0.1 localhost\n" <> Enum.map_join(hosts, "", fn {h, a} -> "#{a} #{h}\n" end)
    )

    Pods.put_etc(net.coordinator_ns, "resolv.conf", """
    nameserver #{net.gateway}
    options timeout:4 attempts:3
    """)

    nodes = Enum.map(pods, & &1.node)

    config =
      Harness.write_config(ctx,
        name: "clusterd@#{net.coordinator_ip}",
        connect_timeout: 3000,
        hosts: nodes
      )

    r = Pods.run_cli(ctx, net, ["ping", "-c", config | Enum.map(nodes, &to_string/1)])
    assert r.status == 0, "ping failed:\n" <> r.out <> r.err
    assert r.out =~ "app@web-0.pods.test"
    refute r.out =~ "pang"

    h = Pods.start_clusterd!(ctx, net, config, args: ["-v"])
    Harness.wait_for_full_mesh(ctx, nodes)
    Harness.wait_for_hidden_peer(ctx, nodes, h.node)
    refute Harness.clusterd_log(h) =~ "cookie does not match"
  end
end
