# The Kubernetes API fixture (test/k8s_fixture/fixture.py) from ExUnit: a
# test CA and certificates made with openssl, the HTTPS server started as a
# recorded process (stopped by pid in the test's cleanup), and its admin API
# (pods, services, faults, tokens, stats) called with curl. Files a client
# needs are written next to it: a service-account directory (token, ca.crt,
# namespace) and kubeconfig files.
#
#   fx = KubeFixture.start!(ctx, host: net.gateway, tokens: ["t1"])
#   KubeFixture.service(fx, "myapp", %{"app" => "myapp"})
#   KubeFixture.pod(fx, "myapp-0", ip: pod.ip, labels: %{"app" => "myapp"}, ready: true)
#   sa = KubeFixture.service_account!(fx, "t1")
#   env = KubeFixture.in_cluster_env(fx)        # KUBERNETES_SERVICE_HOST/PORT

defmodule Clusterd.KubeFixture do
  import ExUnit.Assertions

  alias Clusterd.{Harness, JSON, Procs}

  @root Path.expand("../..", __DIR__)
  @kubectl "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"

  def kubectl, do: @kubectl

  @doc """
  Starts the fixture. Options: host: (default 127.0.0.1), tokens: valid
  bearer tokens (default ["s3cr3t"]), cert_users: client-certificate CNs
  accepted (default ["clusterd-client"]), label:.
  """
  def start!(ctx, opts \\ []) do
    label = Keyword.get(opts, :label, "k8s-fixture")
    dir = Path.join(ctx.dir, label)
    File.mkdir_p!(dir)
    host = Keyword.get(opts, :host, "127.0.0.1")
    san = "IP:127.0.0.1,IP:#{host},DNS:kubernetes.test,DNS:localhost"

    {out, status} =
      System.cmd("bash", [Path.join(@root, "test/k8s_fixture/make_certs.sh"), dir, san],
        stderr_to_stdout: true
      )

    assert status == 0, "make_certs.sh failed:\n#{out}"
    admin = "admin-" <> Base.encode16(:crypto.strong_rand_bytes(8), case: :lower)
    port_file = Path.join(dir, "port")
    tokens = Keyword.get(opts, :tokens, ["s3cr3t"])
    users = Keyword.get(opts, :cert_users, ["clusterd-client"])

    args =
      [
        Path.join(@root, "test/k8s_fixture/fixture.py"),
        "--host",
        host,
        "--cert",
        Path.join(dir, "server.crt"),
        "--key",
        Path.join(dir, "server.key"),
        "--ca",
        Path.join(dir, "ca.crt"),
        "--admin-token",
        admin,
        "--port-file",
        port_file,
        "--log",
        Path.join(dir, "requests.log")
      ] ++
        Enum.flat_map(tokens, &["--token", &1]) ++
        Enum.flat_map(users, &["--cert-user", &1])

    os_pid = Procs.spawn(ctx.dir, :fixture, label, python(), args, Harness.env(ctx), "#{dir}.log")

    case Harness.wait_until(15_000, fn -> File.exists?(port_file) end, 50) do
      {:ok, _} -> :ok
      :timeout -> flunk("the API fixture did not start:\n" <> File.read!("#{dir}.log"))
    end

    port = port_file |> File.read!() |> String.trim() |> String.to_integer()
    url_host = if String.contains?(host, ":"), do: "[#{host}]", else: host

    %{
      dir: dir,
      host: host,
      port: port,
      url: "https://#{url_host}:#{port}",
      ca: Path.join(dir, "ca.crt"),
      client_cert: Path.join(dir, "client.crt"),
      client_key: Path.join(dir, "client.key"),
      admin: admin,
      os_pid: os_pid,
      token: hd(tokens ++ [nil])
    }
  end

  @doc "Calls POST /admin/<op> with a JSON body; returns the decoded reply."
  def admin(fx, op, body \\ %{}) do
    json = :json_encode.encode(body)
    tmp = Path.join(fx.dir, "admin-#{System.unique_integer([:positive])}.json")
    File.write!(tmp, json)

    {out, status} =
      System.cmd(
        "curl",
        [
          "-sS",
          "--max-time",
          "10",
          "--cacert",
          fx.ca,
          "-H",
          "Authorization: Bearer #{fx.admin}",
          "-H",
          "Content-Type: application/json",
          "--data-binary",
          "@#{tmp}",
          "#{fx.url}/admin/#{op}"
        ],
        stderr_to_stdout: true
      )

    File.rm(tmp)
    assert status == 0, "admin #{op} failed: #{out}"
    reply = JSON.decode!(out)
    assert reply["ok"] == true, "admin #{op}: #{out}"
    reply
  end

  @doc "A headless service whose Endpoints/EndpointSlices follow the pods matching selector."
  def service(fx, name, selector, opts \\ []) do
    admin(fx, "service", %{
      "name" => name,
      "namespace" => Keyword.get(opts, :namespace, "default"),
      "selector" => selector,
      "labels" => Keyword.get(opts, :labels, selector),
      "publishNotReadyAddresses" => Keyword.get(opts, :publish_not_ready, false),
      "maxEndpointsPerSlice" => Keyword.get(opts, :per_slice, 100)
    })
  end

  @doc """
  Creates or updates a pod. Fields: ip:, ips:, labels:, ready:, phase:,
  terminating:, hostname:, subdomain:, namespace:.
  """
  def pod(fx, name, fields) do
    body =
      fields
      |> Enum.map(fn {k, v} -> {Atom.to_string(k), v} end)
      |> Map.new()
      |> Map.put("name", name)

    admin(fx, "pod", body)
  end

  def delete_pod(fx, name, ns \\ "default"),
    do: admin(fx, "delete_pod", %{"name" => name, "namespace" => ns})

  @doc "Fault injection: status:, match: (path regex), count:, seconds:, retry_after:, text:, watch:."
  def fault(fx, fields),
    do:
      admin(fx, "fault", fields |> Enum.map(fn {k, v} -> {Atom.to_string(k), v} end) |> Map.new())

  def clear_faults(fx), do: admin(fx, "clear_faults")
  def tokens(fx, tokens), do: admin(fx, "tokens", %{"tokens" => tokens})
  def settings(fx, s), do: admin(fx, "settings", s)

  @doc "Every request the API saw (admin calls excluded), oldest first."
  def requests(fx), do: admin(fx, "stats")["requests"]

  @doc "A service-account directory (token, ca.crt, namespace) for in-cluster access."
  def service_account!(fx, token, ns \\ "default") do
    dir = Path.join(fx.dir, "serviceaccount")
    File.mkdir_p!(dir)
    File.cp!(fx.ca, Path.join(dir, "ca.crt"))
    write_token!(dir, token)
    File.write!(Path.join(dir, "namespace"), ns)
    dir
  end

  @doc "Replaces the token file the way the kubelet does: a new file renamed over the old."
  def write_token!(sa_dir, token) do
    tmp = Path.join(sa_dir, ".token.tmp")
    File.write!(tmp, token)
    File.rename!(tmp, Path.join(sa_dir, "token"))
  end

  @doc "The environment of a pod: KUBERNETES_SERVICE_HOST/PORT."
  def in_cluster_env(fx),
    do: [{"KUBERNETES_SERVICE_HOST", fx.host}, {"KUBERNETES_SERVICE_PORT", "#{fx.port}"}]

  @doc """
  Writes a kubeconfig. user: a map of user fields (e.g. %{"token" => "..."}),
  cluster: extra cluster fields (default certificate-authority-data of the
  fixture's CA), namespace:, server:.
  """
  def kubeconfig!(fx, file, opts \\ []) do
    ca_b64 = fx.ca |> File.read!() |> Base.encode64()
    cluster = Keyword.get(opts, :cluster, %{"certificate-authority-data" => ca_b64})
    server = Keyword.get(opts, :server, fx.url)
    user = Keyword.get(opts, :user, %{"token" => fx.token})
    ns = Keyword.get(opts, :namespace, "default")

    yaml =
      Enum.join(
        [
          "apiVersion: v1",
          "kind: Config",
          "current-context: other",
          "clusters:",
          "- name: decoy",
          "  cluster:",
          "    server: https://192.0.2.1:6443",
          "- name: fixture",
          "  cluster:",
          yaml_map(Map.put(cluster, "server", server), 4),
          "users:",
          "- name: u",
          "  user:",
          yaml_user(user),
          "contexts:",
          "- name: other",
          "  context: {cluster: decoy, user: u}",
          "- name: test",
          "  context:",
          "    cluster: fixture",
          "    user: u",
          "    namespace: #{ns}"
        ],
        "\n"
      ) <> "\n"

    File.write!(file, yaml)
    file
  end

  defp yaml_user(user) do
    {exec, rest} = Map.pop(user, "exec")
    base = if rest == %{}, do: "    {}", else: yaml_map(rest, 4)

    case exec do
      nil ->
        base

      e ->
        args = Enum.map_join(Map.get(e, "args", []), "", &"\n      - #{inspect(&1)}")

        env =
          Enum.map_join(Map.get(e, "env", []), "", fn {k, v} ->
            "\n      - {name: #{k}, value: #{inspect(v)}}"
          end)

        if(rest == %{}, do: "", else: base <> "\n") <>
          "    exec:\n      apiVersion: #{e["apiVersion"]}\n      command: #{inspect(e["command"])}\n      interactiveMode: Never" <>
          if(args != "", do: "\n      args:" <> args, else: "") <>
          if(env != "", do: "\n      env:" <> env, else: "")
    end
  end

  defp yaml_map(map, indent) do
    pad = String.duplicate(" ", indent)

    map
    |> Enum.map(fn {k, v} -> "#{pad}#{k}: #{yaml_scalar(v)}" end)
    |> Enum.join("\n")
  end

  defp yaml_scalar(v) when is_boolean(v), do: "#{v}"
  defp yaml_scalar(v), do: inspect(to_string(v))

  @doc "Runs kubectl 1.32 against the fixture with a kubeconfig; returns {output, status}."
  def run_kubectl(fx, kubeconfig, args, timeout_s \\ 30) do
    assert File.exists?(@kubectl), "kubectl 1.32 not found at #{@kubectl}"
    cache = Path.join(fx.dir, "kubectl-cache")

    System.cmd(
      "timeout",
      ["-k", "2", "#{timeout_s}", @kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cache] ++
        args,
      stderr_to_stdout: true,
      env: [{"KUBECONFIG", nil}, {"HOME", fx.dir}]
    )
  end

  # Debian's python3 (scripts/install-deps.sh installs it), not whichever
  # python3 comes first in PATH (a pyenv one, say).
  defp python, do: if(File.exists?("/usr/bin/python3"), do: "/usr/bin/python3", else: "python3")
end

# A tiny JSON encoder for admin bodies (maps, lists, strings, numbers,
# booleans, nil): the observer has no JSON library.
defmodule :json_encode do
  def encode(m) when is_map(m),
    do:
      "{" <>
        Enum.map_join(m, ",", fn {k, v} -> encode(to_string(k)) <> ":" <> encode(v) end) <> "}"

  def encode(l) when is_list(l), do: "[" <> Enum.map_join(l, ",", &encode/1) <> "]"
  def encode(true), do: "true"
  def encode(false), do: "false"
  def encode(nil), do: "null"
  def encode(n) when is_integer(n) or is_float(n), do: "#{n}"
  def encode(a) when is_atom(a), do: encode(Atom.to_string(a))

  def encode(s) when is_binary(s) do
    "\"" <>
      (s
       |> String.replace("\\", "\\\\")
       |> String.replace("\"", "\\\"")
       |> String.replace("\n", "\\n")) <> "\""
  end
end
