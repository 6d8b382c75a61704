# Distribution over TLS: members started with `-proto_dist inet_tls` and an
# ssl_dist_optfile (certificates made by the test with openssl), clusterd with
# `node.tls:`. The judge is a TLS observer node (test/support/tls.exs), not
# clusterd's own view.
defmodule Clusterd.TlsTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H
  alias Clusterd.Tls

  setup context do
    ctx = H.setup_test(context)
    pki = Tls.setup_pki(ctx)
    {:ok, Map.merge(ctx, %{pki: pki, obs: Tls.start_observer(ctx, pki)})}
  end

  defp start_tls_clusterd(ctx, members, opts \\ []) do
    config =
      H.write_config(ctx,
        hosts: members,
        poll_interval: Keyword.get(opts, :poll_interval, 600_000),
        node_extra: Tls.config_lines(ctx.pki)
      )

    {H.start_clusterd(ctx, config), config}
  end

  test "clusterd meshes TLS members and heals their cut links (connect_all false: only clusterd heals)",
       ctx do
    [n1, n2, n3] = members = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(n1 n2 n3), connect_all: false)
    # No member knows another: without clusterd there is no mesh.
    assert Tls.missing_links(ctx.obs, members) != []

    {h, config} = start_tls_clusterd(ctx, members)
    Tls.wait_for_full_mesh(ctx, ctx.obs, members)
    Tls.wait_for_hidden_peer(ctx, ctx.obs, members, h.node)
    H.wait_for_log(ctx, h, ~r/msg="clusterd started".*transport=tls/)

    # Cut links on the members; the poll is 600 s, so node events over the
    # TLS links are what heals them.
    assert Tls.call(ctx.obs, n1, :erlang, :disconnect_node, [n2]) == {:ok, true}
    Tls.wait_for_full_mesh(ctx, ctx.obs, members, 15_000)

    for peer <- [n1, n2], do: Tls.call(ctx.obs, n3, :erlang, :disconnect_node, [peer])
    Tls.wait_for_full_mesh(ctx, ctx.obs, members, 15_000)

    # `clusterd status` with the same config reaches the coordinator over TLS.
    r = H.run_cli(ctx, ["status", "-c", config, "--json"])
    assert r.status == 0, "status over TLS: exit #{r.status}\n#{r.err}"
    assert %{"full_mesh" => true} = Clusterd.JSON.decode!(r.out)

    # A plain-TCP client is refused with a reason that names TLS, at once.
    plain = H.write_config(ctx, file: "plain.yaml", hosts: members)
    r = H.run_cli(ctx, ["status", "-c", plain, "--timeout", "20000"])
    assert r.status == 1
    assert r.err =~ "TLS distribution", r.err
  end

  test "clusterd mesh and ping speak TLS with node.tls; plain ping says the node runs TLS", ctx do
    [n1 | _] =
      members = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(p1 p2 p3), connect_all: false)

    config =
      H.write_config(ctx, hosts: members, poll_interval: 600_000, node_extra: Tls.config_lines(ctx.pki))

    # Before clusterd: nothing is meshed, and mesh says so over TLS.
    r = H.run_cli(ctx, ["mesh", "-c", config, "--json"])
    assert r.status == 1, "mesh: exit #{r.status}\n#{r.out}\n#{r.err}"
    j = Clusterd.JSON.decode!(r.out)
    assert j["full_mesh"] == false
    assert j["unreachable"] == [], r.out
    assert length(j["missing"]) == 3, r.out
    assert length(j["partitions"]) == 3, r.out

    r = H.run_cli(ctx, ["ping", "-c", config, "--json"] ++ Enum.map(members, &to_string/1))
    assert r.status == 0, "ping: exit #{r.status}\n#{r.out}\n#{r.err}"
    j = Clusterd.JSON.decode!(r.out)["nodes"]
    for m <- members, do: assert(j[to_string(m)]["ok"] == true, r.out)

    # After clusterd meshed them, mesh agrees with the TLS observer.
    h = H.start_clusterd(ctx, config)
    Tls.wait_for_full_mesh(ctx, ctx.obs, members)
    Tls.wait_for_hidden_peer(ctx, ctx.obs, members, h.node)
    r = H.run_cli(ctx, ["mesh", "-c", config, "--json"])
    assert r.status == 0, "mesh: exit #{r.status}\n#{r.out}\n#{r.err}"
    assert Clusterd.JSON.decode!(r.out)["full_mesh"] == true

    # A plain-TCP ping gets a reason, not a hang.
    r = H.run_cli(ctx, ["ping", "#{n1}", "--cookie-file", ctx.cookie_file, "--timeout", "20000", "--json"])
    assert r.status == 1
    e = Clusterd.JSON.decode!(r.out)["nodes"]["#{n1}"]
    assert e["reason"] == "tls", r.out
    assert e["error"] =~ "configure node.tls", r.out
  end

  test "TLS 1.3 only (members and clusterd): mesh and heal", ctx do
    [n1, n2, _] =
      members =
      Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(v1 v2 v3), connect_all: false, tls13: true)

    config =
      H.write_config(ctx,
        hosts: members,
        poll_interval: 600_000,
        node_extra: Tls.config_lines(ctx.pki, "clusterd", "ca", ["versions: [tlsv1.3]"])
      )

    h = H.start_clusterd(ctx, config)
    Tls.wait_for_full_mesh(ctx, ctx.obs, members)
    Tls.wait_for_hidden_peer(ctx, ctx.obs, members, h.node)
    assert Tls.call(ctx.obs, n1, :erlang, :disconnect_node, [n2]) == {:ok, true}
    Tls.wait_for_full_mesh(ctx, ctx.obs, members, 15_000)
  end

  test "members whose certificate comes from another CA, or has expired, are refused with the reason; the others mesh",
       ctx do
    good = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(a b))
    [bad] = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(bad), ca: "other_ca")
    [old] = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(old), expired: true)
    {h, _} = start_tls_clusterd(ctx, good ++ [bad, old])

    Tls.wait_for_full_mesh(ctx, ctx.obs, good)
    Tls.wait_for_hidden_peer(ctx, ctx.obs, good, h.node)

    [line | _] =
      H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=bad@127\.0\.0\.1/)

    assert line =~ "TLS handshake with bad@127.0.0.1 failed", line
    assert line =~ "certificate is not trusted", line

    [line | _] = H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=old@127\.0\.0\.1/)

    assert line =~
             "TLS handshake with old@127.0.0.1 failed: the peer's certificate is not trusted: certificate has expired",
           line

    # The trusted members were not made to connect to it.
    for m <- good do
      {:ok, seen} = Tls.nodes_of(ctx.obs, m)
      refute bad in seen, "#{m} sees #{bad}: #{inspect(seen)}"
      refute old in seen, "#{m} sees #{old}: #{inspect(seen)}"
    end
  end

  test "a member whose certificate does not name its host is refused; server_name_indication names the host to expect",
       ctx do
    [elsewhere] =
      Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(elsewhere), san: "DNS:elsewhere.example.com")

    {h, _} = start_tls_clusterd(ctx, [elsewhere])
    [line | _] = H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=elsewhere@/)

    assert line =~
             "failed: the peer's certificate is not valid for host 127.0.0.1 (no matching subjectAltName)",
           line

    # The same certificate is accepted when the config says which name to expect.
    H.stop_clusterd(h)

    config =
      H.write_config(ctx,
        file: "sni.yaml",
        hosts: [elsewhere],
        node_extra: Tls.config_lines(ctx.pki, "clusterd", "ca", ["server_name_indication: elsewhere.example.com"])
      )

    h2 = H.start_clusterd(ctx, config, label: "clusterd-sni")
    H.wait_for_log(ctx, h2, ~r/msg="link up" node=elsewhere@127\.0\.0\.1/)
  end

  test "clusterd's own certificate from another CA: the members refuse it, and clusterd says so",
       ctx do
    members = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(m1 m2), connect_all: false)

    config =
      H.write_config(ctx,
        hosts: members,
        node_extra:
          Tls.config_lines(ctx.pki, "intruder", "other_ca") |> trust_both(ctx.pki)
      )

    h = H.start_clusterd(ctx, config)
    [line | _] = H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=m1@127\.0\.0\.1/)
    assert line =~ ~r/TLS (handshake with|connection to) m1@127\.0\.0\.1 failed: the peer refused the handshake \(tlsv1 alert unknown ca\)/,
           line

    assert Tls.missing_links(ctx.obs, members) != [], "members meshed through an untrusted clusterd"
    assert H.running?(h)
  end

  test "plain-TCP clusterd against TLS members fails with a clear reason and keeps running", ctx do
    members = Tls.start_members(ctx, ctx.pki, ctx.obs, ~w(t1 t2), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members, connect_timeout: 20_000))

    for m <- members do
      [line | _] = H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=#{Regex.escape("#{m}")}/, 10_000)
      assert line =~ "answered the distribution handshake with TLS", line
      assert line =~ "configure node.tls", line
    end

    # Not hung: the loop answers a status call at once.
    r = H.run_cli(ctx, ["status", "--coordinator", "#{h.node}", "--cookie-file", ctx.cookie_file, "--json"])
    assert r.status == 0, r.err
    assert %{"full_mesh" => false} = Clusterd.JSON.decode!(r.out)
  end

  test "TLS clusterd against a plain-TCP member: bounded by connect_timeout, with a reason", ctx do
    plain = H.start_erl(ctx, "plain")
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: [plain], connect_timeout: 1000, node_extra: Tls.config_lines(ctx.pki)))
    [line | _] = H.wait_for_log(ctx, h, ~r/msg="cannot connect to member" node=plain@127\.0\.0\.1/)
    assert line =~ "TLS handshake", line
    assert line =~ "-proto_dist inet_tls", line
  end

  # clusterd's certificate from other_ca, but trusting the members' CA: only
  # the members' verification of clusterd can fail.
  defp trust_both(lines, pki) do
    Enum.map(lines, fn
      "    cacertfile: " <> _ -> "    cacertfile: #{Tls.ca_cert(pki, "ca")}"
      l -> l
    end)
  end
end
