# How clusterd reaches the Kubernetes API: in-cluster service account (token
# file re-read after a 401, so a rotated token is used), kubeconfig files with
# CA data and a token, client certificates (files and data), exec credential
# plugins, insecure-skip-tls-verify (warned), and the errors that stop it
# from starting (no ca.crt: never an unverified fall-back). The fixture runs
# on loopback; members are named app@127.0.1.N and are not started: clusterd's
# log says who joined.
defmodule Clusterd.KubeAccessTest do
  use ExUnit.Case, async: false

  alias Clusterd.Harness
  alias Clusterd.KubeFixture, as: K

  setup context do
    ctx = Harness.setup_test(context)
    fx = K.start!(ctx, tokens: ["tok-1"])
    K.service(fx, "myapp", %{"app" => "myapp"})
    K.pod(fx, "myapp-0", ip: "127.0.1.10", labels: %{"app" => "myapp"}, ready: true)
    {:ok, ctx: ctx, fx: fx}
  end

  defp config(ctx, extra) do
    Harness.write_config(ctx,
      topologies: [
        {"k8s", "kubernetes",
         [
           kubernetes_selector: "app=myapp",
           kubernetes_node_basename: "app",
           watch_timeout: 30,
           backoff_min: 100,
           backoff_max: 500
         ] ++ extra}
      ]
    )
  end

  defp joined(ctx, h, ip),
    do: Harness.wait_for_log(ctx, h, ~r/member joined" topology=k8s node=app@#{Regex.escape(ip)}/)

  defp authorized(fx), do: Enum.filter(K.requests(fx), &(&1["status"] == 200))

  test "in-cluster: a rotated token file is read again after a 401", %{ctx: ctx, fx: fx} do
    sa = K.service_account!(fx, "tok-1")

    h =
      Harness.start_clusterd(ctx, config(ctx, kubernetes_service_account_path: sa),
        env: K.in_cluster_env(fx)
      )

    joined(ctx, h, "127.0.1.10")

    # The kubelet rotates the token; the old one stops working.
    K.write_token!(sa, "tok-2")
    K.tokens(fx, ["tok-2"])
    K.admin(fx, "break_watches")
    K.pod(fx, "myapp-1", ip: "127.0.1.11", labels: %{"app" => "myapp"}, ready: true)
    joined(ctx, h, "127.0.1.11")

    reqs = K.requests(fx)
    assert Enum.any?(reqs, &(&1["status"] == 401 and &1["auth"] == "Bearer tok-1"))
    assert Enum.any?(authorized(fx), &(&1["auth"] == "Bearer tok-2"))
    # the first request after the 401 already carries the new token
    i = Enum.find_index(reqs, &(&1["status"] == 401))
    assert Enum.at(reqs, i + 1)["auth"] == "Bearer tok-2"
    refute Harness.clusterd_log(h) =~ "member left"
  end

  test "kubernetes_master: the service account's files, another API address", %{ctx: ctx, fx: fx} do
    sa = K.service_account!(fx, "tok-1")
    # libcluster's form: host:port is used as is (https, port given)
    h =
      Harness.start_clusterd(
        ctx,
        config(ctx, kubernetes_service_account_path: sa, kubernetes_master: "127.0.0.1:#{fx.port}"),
        env: [{"KUBERNETES_SERVICE_HOST", "127.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "1"}]
      )

    joined(ctx, h, "127.0.1.10")
    assert Harness.clusterd_log(h) =~ "server=https://127.0.0.1:#{fx.port}"
  end

  test "in-cluster without ca.crt does not start (never an unverified connection)",
       %{ctx: ctx, fx: fx} do
    sa = K.service_account!(fx, "tok-1")
    File.rm!(Path.join(sa, "ca.crt"))

    h =
      Harness.start_clusterd(ctx, config(ctx, kubernetes_service_account_path: sa),
        env: K.in_cluster_env(fx)
      )

    assert {:ok, 2} = Harness.wait_exit(h, 15_000)
    assert Harness.clusterd_log(h) =~ "ca.crt"
    assert K.requests(fx) == []
  end

  test "in-cluster with the wrong CA: TLS fails, nothing is removed, nothing sent in clear",
       %{ctx: ctx, fx: fx} do
    sa = K.service_account!(fx, "tok-1")
    other = K.start!(ctx, label: "other-ca")
    File.cp!(other.ca, Path.join(sa, "ca.crt"))

    h =
      Harness.start_clusterd(ctx, config(ctx, kubernetes_service_account_path: sa),
        env: K.in_cluster_env(fx)
      )

    Harness.wait_for_log(ctx, h, ~r/discovery failed.*(SSL|certificate)/i)
    assert K.requests(fx) == []
  end

  test "kubeconfig: context, certificate-authority-data and token", %{ctx: ctx, fx: fx} do
    kc = K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"), user: %{"token" => "tok-1"})
    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    joined(ctx, h, "127.0.1.10")
    assert Enum.all?(K.requests(fx), &(&1["auth"] == "Bearer tok-1"))
    assert Harness.clusterd_log(h) =~ ~r/access="kubeconfig .*context test"/
  end

  test "kubeconfig: tokenFile, CA file and the context's namespace", %{ctx: ctx, fx: fx} do
    K.service(fx, "myapp", %{"app" => "myapp"}, namespace: "team")

    K.pod(fx, "x-0", ip: "127.0.1.20", labels: %{"app" => "myapp"}, ready: true, namespace: "team")

    File.write!(Path.join(ctx.dir, "tokfile"), "tok-1\n")
    File.cp!(fx.ca, Path.join(ctx.dir, "ca.pem"))

    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{"tokenFile" => "tokfile"},
        cluster: %{"certificate-authority" => "ca.pem"},
        namespace: "team"
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    joined(ctx, h, "127.0.1.20")
    assert Enum.all?(K.requests(fx), &(&1["path"] =~ "/namespaces/team/"))
  end

  test "kubeconfig: client certificate and key, as files and as data", %{ctx: ctx, fx: fx} do
    kc1 =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kc-files"),
        user: %{"client-certificate" => fx.client_cert, "client-key" => fx.client_key}
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc1, context: "test"))
    joined(ctx, h, "127.0.1.10")
    Harness.stop_clusterd(h)
    assert Enum.all?(authorized(fx), &(&1["user"] == "cert:clusterd-client" and &1["auth"] == ""))

    kc2 =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kc-data"),
        user: %{
          "client-certificate-data" => Base.encode64(File.read!(fx.client_cert)),
          "client-key-data" => Base.encode64(File.read!(fx.client_key))
        }
      )

    K.admin(fx, "reset_stats")
    h2 = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc2, context: "test"), label: "c2")
    joined(ctx, h2, "127.0.1.10")
    assert authorized(fx) != []
    assert Enum.all?(authorized(fx), &(&1["user"] == "cert:clusterd-client"))
  end

  test "kubeconfig: exec plugin (v1), re-run after a 401", %{ctx: ctx, fx: fx} do
    plugin = Path.join(ctx.dir, "plugin.sh")
    runs = Path.join(ctx.dir, "plugin.runs")
    src = Path.join(ctx.dir, "plugin.token")
    File.write!(src, "tok-1")

    File.write!(plugin, """
    #!/bin/sh
    echo "$KUBERNETES_EXEC_INFO" >> "$RUNS"
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\\n' "$(cat "$SRC")"
    """)

    File.chmod!(plugin, 0o755)

    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{
          "exec" => %{
            "apiVersion" => "client.authentication.k8s.io/v1",
            "command" => plugin,
            "env" => [{"RUNS", runs}, {"SRC", src}]
          }
        }
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    joined(ctx, h, "127.0.1.10")
    [info | _] = File.read!(runs) |> String.split("\n", trim: true)
    assert info =~ ~s("kind":"ExecCredential") and info =~ ~s("interactive":false)
    assert Enum.all?(authorized(fx), &(&1["auth"] == "Bearer tok-1"))
    # cached: one run for the list and the watch
    assert length(String.split(File.read!(runs), "\n", trim: true)) == 1

    File.write!(src, "tok-2")
    K.tokens(fx, ["tok-2"])
    K.admin(fx, "break_watches")
    K.pod(fx, "myapp-1", ip: "127.0.1.11", labels: %{"app" => "myapp"}, ready: true)
    joined(ctx, h, "127.0.1.11")
    assert length(String.split(File.read!(runs), "\n", trim: true)) >= 2
  end

  test "kubeconfig: an exec plugin whose child keeps stdout open; the plugin never sees the cookie",
       %{ctx: ctx, fx: fx} do
    # The plugin prints its credential and exits, but leaves a child that
    # holds its stdout for a minute: clusterd must not wait for that end of
    # file. It also records its environment: the cookie must not be there,
    # though clusterd was started with RELEASE_COOKIE set.
    plugin = Path.join(ctx.dir, "plugin.sh")
    envfile = Path.join(ctx.dir, "plugin.env")

    File.write!(plugin, """
    #!/bin/sh
    env > "$ENVFILE"
    sleep 60 &
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-1"}}\\n'
    """)

    File.chmod!(plugin, 0o755)

    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{
          "exec" => %{
            "apiVersion" => "client.authentication.k8s.io/v1",
            "command" => plugin,
            "env" => [{"ENVFILE", envfile}]
          }
        }
      )

    h =
      Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"),
        env: [{"RELEASE_COOKIE", ctx.cookie}]
      )

    joined(ctx, h, "127.0.1.10")
    assert Enum.all?(authorized(fx), &(&1["auth"] == "Bearer tok-1"))
    env = File.read!(envfile)
    assert env =~ "ENVFILE="
    refute env =~ ctx.cookie, "the exec plugin inherited the cookie"
    refute env =~ "RELEASE_COOKIE="
  end

  test "kubeconfig: a failing exec plugin (v1beta1) fails the round, then recovers",
       %{ctx: ctx, fx: fx} do
    plugin = Path.join(ctx.dir, "plugin.sh")
    ok = Path.join(ctx.dir, "plugin.ok")

    File.write!(plugin, """
    #!/bin/sh
    [ -f "$OK" ] || { echo "plugin: not logged in" >&2; exit 3; }
    echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"tok-1"}}'
    """)

    File.chmod!(plugin, 0o755)

    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{
          "exec" => %{
            "apiVersion" => "client.authentication.k8s.io/v1beta1",
            "command" => plugin,
            "env" => [{"OK", ok}]
          }
        }
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    Harness.wait_for_log(ctx, h, ~r/discovery failed.*exec plugin exited with status 3/)
    assert K.requests(fx) == []
    File.write!(ok, "")
    joined(ctx, h, "127.0.1.10")
  end

  test "kubeconfig: insecure-skip-tls-verify works and is warned about", %{ctx: ctx, fx: fx} do
    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{"token" => "tok-1"},
        cluster: %{"insecure-skip-tls-verify" => true}
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    joined(ctx, h, "127.0.1.10")
    assert Harness.clusterd_log(h) =~ ~r/level=warn msg="insecure-skip-tls-verify/
  end

  test "kubeconfig: tls-server-name verifies the certificate against another name",
       %{ctx: ctx, fx: fx} do
    # the server certificate has DNS:kubernetes.test; connect by address
    kc =
      K.kubeconfig!(fx, Path.join(ctx.dir, "kubeconfig"),
        user: %{"token" => "tok-1"},
        cluster: %{
          "certificate-authority-data" => Base.encode64(File.read!(fx.ca)),
          "tls-server-name" => "kubernetes.test"
        }
      )

    h = Harness.start_clusterd(ctx, config(ctx, kubeconfig: kc, context: "test"))
    joined(ctx, h, "127.0.1.10")
  end

  test "check rejects a Kubernetes topology without selector or service", %{ctx: ctx} do
    cfg =
      Harness.write_config(ctx,
        topologies: [{"k8s", "kubernetes", [kubernetes_node_basename: "app"]}]
      )

    r = Harness.run_cli(ctx, ["check", "-c", cfg])
    assert r.status == 2
    assert r.err =~ "kubernetes_selector is required"
  end
end
