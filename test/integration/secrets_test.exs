# Secrets never leak: one debug-level session that handles every kind of
# secret clusterd knows (the cookie from node.cookie_env, a kubeconfig bearer
# token, an exec plugin's token, a member with the wrong cookie, a config
# error), then every place a secret could show is searched for each of them:
# the log, /metrics, /healthz, /readyz, `clusterd status` (text and JSON),
# `clusterd discover`, `clusterd check`, clusterd's /proc cmdline and environ,
# and the exec plugin's environment. The TLS key's passphrase gets the same
# treatment in a session over TLS. cookie_test.exs covers the cookie file.
defmodule Clusterd.SecretsTest do
  use ExUnit.Case, async: false
  alias Clusterd.{HTTP, Tls}
  alias Clusterd.Harness, as: H
  alias Clusterd.KubeFixture, as: K

  setup context, do: {:ok, H.setup_test(context)}

  defp secret(tag), do: tag <> (:crypto.strong_rand_bytes(12) |> Base.encode32(padding: false))

  # Every secret in `secrets` is absent from every {place, text} pair.
  defp refute_secrets(places, secrets) do
    for {place, text} <- places, {what, s} <- secrets do
      refute String.contains?(text, s), "the #{what} appears in #{place}"
    end
  end

  # Under `make valgrind` /proc/<pid>/environ is valgrind's own block (it
  # hands clusterd a copy), which clusterd cannot overwrite: not judged there.
  defp proc_places(h) do
    cmdline = {"clusterd's /proc cmdline", File.read!("/proc/#{h.os_pid}/cmdline")}

    if String.contains?(H.bin(), "valgrind"),
      do: [cmdline],
      else: [cmdline, {"clusterd's /proc environ", File.read!("/proc/#{h.os_pid}/environ")}]
  end

  test "cookie, bearer token and exec plugin token: nowhere in log, metrics, status, /proc or children",
       ctx do
    token = secret("TOKINLINE")
    exec_token = secret("TOKEXEC")
    fx = K.start!(ctx, tokens: [token, exec_token])
    K.service(fx, "myapp", %{"app" => "myapp"})
    K.pod(fx, "myapp-0", ip: "127.0.1.10", labels: %{"app" => "myapp"}, ready: true)

    # The exec plugin records the environment it was given.
    plugin = Path.join(ctx.dir, "plugin.sh")
    envfile = Path.join(ctx.dir, "plugin.env")

    File.write!(plugin, """
    #!/bin/sh
    env > "$ENVFILE"
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"#{exec_token}"}}\\n'
    """)

    File.chmod!(plugin, 0o755)

    kc_token =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig-token"), user: %{"token" => token})

    kc_exec =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig-exec"),
        user: %{
          "exec" => %{
            "apiVersion" => "client.authentication.k8s.io/v1",
            "command" => plugin,
            "env" => [{"ENVFILE", envfile}]
          }
        }
      )

    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    bad = H.start_erl(ctx, "nbad", cookie: H.random_cookie(), connect_all: false)
    k8s = [kubernetes_selector: "app=myapp", kubernetes_node_basename: "app", watch_timeout: 30]

    topologies = [
      {"static", "Cluster.Strategy.Epmd", [hosts: Enum.map(members ++ [bad], &to_string/1)]},
      {"k8s_token", "kubernetes", k8s ++ [kubeconfig: kc_token, context: "test"]},
      {"k8s_exec", "kubernetes", k8s ++ [kubeconfig: kc_exec, context: "test"]}
    ]

    # The cookie comes from a variable named in the config (not a file).
    yaml =
      H.config_yaml(ctx, topologies: topologies)
      |> String.replace(~r/^  cookie_file: .*$/m, "  cookie_env: CD_SECRET_COOKIE")

    config = Path.join(ctx.dir, "clusterd.yaml")
    File.write!(config, yaml <> "http:\n  listen: \"127.0.0.1:0\"\n")
    cookie_env = [{"CD_SECRET_COOKIE", ctx.cookie}]
    h = H.start_clusterd(ctx, config, args: ["-v"], env: cookie_env)

    H.wait_for_log(ctx, h, ~r/msg="http listening"/)
    port = HTTP.port_from_log(H.clusterd_log(h))
    H.wait_for_full_mesh(ctx, members)
    # Proof that each secret was used: both tokens authorized, the wrong
    # cookie refused.
    H.wait_for_log(ctx, h, ~r/member joined" topology=k8s_token node=app@127\.0\.1\.10/)
    H.wait_for_log(ctx, h, ~r/member joined" topology=k8s_exec node=app@127\.0\.1\.10/)
    H.wait_for_log(ctx, h, ~r/level=(error|warn)\b.*nbad@127\.0\.0\.1.*cookie/)
    auths = for r <- K.requests(fx), r["status"] == 200, uniq: true, do: r["auth"]
    assert "Bearer #{token}" in auths and "Bearer #{exec_token}" in auths

    http = for path <- ~w(/metrics /healthz /readyz /status /nope), do: HTTP.get(port, path)
    assert {:ok, %{status: 200}} = hd(http)

    cli =
      for args <- [
            ["status", "-c", config],
            ["status", "-c", config, "--json"],
            ["discover", "-c", config, "--json"],
            ["check", "-c", config],
            ["mesh", "-c", config, "--json"]
          ] do
        r = H.run_cli(ctx, args, env: cookie_env)
        {"`clusterd #{Enum.join(args, " ")}`", r.out <> r.err}
      end

    assert {_, status_text} = hd(cli)
    assert status_text =~ "n1@127.0.0.1", "status did not reach the coordinator:\n#{status_text}"

    # A config error in a file that also names the secrets' places.
    broken = Path.join(ctx.dir, "broken.yaml")
    File.write!(broken, String.replace(yaml, "reconcile:", "reconcile: [") <> "  oops: 1\n")
    r = H.run_cli(ctx, ["check", "-c", broken], env: cookie_env)
    assert r.status != 0

    plugin_env = File.read!(envfile)
    refute plugin_env =~ "CD_SECRET_COOKIE=", "the exec plugin got the cookie variable"
    refute plugin_env =~ "RELEASE_COOKIE="
    places = proc_places(h)
    assert {:ok, 0} = H.stop_clusterd(h)

    secrets = [cookie: ctx.cookie, token: token, exec_token: exec_token]

    refute_secrets(
      [
        {"clusterd's log", H.clusterd_log(h)},
        {"the exec plugin's environment", plugin_env},
        {"`clusterd check` of a broken config", r.out <> r.err}
      ] ++
        places ++
        cli ++ for({:ok, resp} <- http, do: {"an HTTP response", resp.raw}),
      secrets
    )
  end

  test "the TLS key's passphrase: nowhere in log, status or /proc; a wrong or loose file is refused by name",
       ctx do
    pki = Tls.setup_pki(ctx)
    obs = Tls.start_observer(ctx, pki)
    members = Tls.start_members(ctx, pki, obs, ~w(n1 n2), connect_all: false)
    {crt, key} = Tls.node_cert(pki, "clusterd")
    pass = secret("PASS")
    pass_file = H.write_cookie_file(ctx, "key.pass", pass <> "\n")
    enc_key = Path.join(ctx.dir, "clusterd.enc.key")

    {out, 0} =
      System.cmd(
        "openssl",
        ["pkey", "-in", key, "-aes256", "-passout", "file:" <> pass_file, "-out", enc_key],
        stderr_to_stdout: true
      )

    assert File.read!(enc_key) =~ "ENCRYPTED", out

    tls = fn pfile ->
      [
        "  tls:",
        "    certfile: #{crt}",
        "    keyfile: #{enc_key}",
        "    cacertfile: #{Tls.ca_cert(pki)}",
        "    password_file: #{pfile}"
      ]
    end

    # Kubernetes mounts Secrets through symbolic links: the link is followed.
    link = Path.join(ctx.dir, "key.pass.link")
    File.ln_s!(pass_file, link)
    config = H.write_config(ctx, hosts: members, node_extra: tls.(link))
    h = H.start_clusterd(ctx, config, args: ["-v"])
    Tls.wait_for_full_mesh(ctx, obs, members)
    H.wait_for_log(ctx, h, ~r/msg="clusterd started".*transport=tls/)
    st = H.run_cli(ctx, ["status", "-c", config, "--json"])
    assert st.status == 0, st.err
    places = proc_places(h)
    assert {:ok, 0} = H.stop_clusterd(h)

    # A wrong passphrase, and a passphrase file others may read: refused at
    # start, naming the file, never the content.
    wrong = secret("WRONG")
    wrong_file = H.write_cookie_file(ctx, "wrong.pass", wrong)
    loose_file = H.write_cookie_file(ctx, "loose.pass", pass, 0o644)

    refusals =
      for {label, pfile, why} <- [
            {"wrong", wrong_file, ~r/keyfile/},
            {"loose", loose_file, ~r/accessible by its owner only/}
          ] do
        c = H.write_config(ctx, file: "#{label}.yaml", hosts: members, node_extra: tls.(pfile))
        hb = H.start_clusterd(ctx, c, label: label, args: ["-v"])
        assert {:ok, 2} = H.wait_exit(hb, 15_000)
        log = H.clusterd_log(hb)
        assert log =~ why, log
        if label == "loose", do: assert(String.contains?(log, pfile), log)
        {"the #{label} passphrase run's log", log}
      end

    refute_secrets(
      [{"clusterd's log", H.clusterd_log(h)}, {"`clusterd status`", st.out <> st.err}] ++
        places ++ refusals,
      passphrase: pass,
      wrong_passphrase: wrong,
      cookie: ctx.cookie
    )
  end
end
