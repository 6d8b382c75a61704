# Pod-like hosts for integration tests: every BEAM node in its own network
# namespace with its own address, its own epmd on 4369 and the name
# app@<its address>, as in a Kubernetes pod; clusterd in a "coordinator pod"
# of its own. The namespaces hang off one bridge per test, whose root-side
# address (net.gateway) is where a test runs the things pods talk to (bind9,
# the Kubernetes API fixture). The observer (root namespace) reaches the
# nodes through the bridge (Clusterd.ObserverEpmd looks them up in the pod's
# own epmd), so Harness.wait_for_full_mesh, nodes_of and peer? work on them.
#
# Everything is created by the test and removed in its on_exit: processes
# first (by pid), then namespaces, then the bridge. Names are random per
# network, so runs on one machine do not collide, and each is also recorded
# in the run's `netns` file so that test/run-integration.sh removes leftovers
# if the observer dies.
#
#   net = Pods.network!(ctx)
#   pod = Pods.start_pod!(ctx, net, "app")            # node app@10.x.y.11
#   h = Pods.start_clusterd!(ctx, net, config_path)   # clusterd@net.coordinator_ip
#
# Needs root (ip netns, ip link).

defmodule Clusterd.Pods do
  import ExUnit.Assertions

  alias Clusterd.{Epmd, Harness, ObserverEpmd, Procs}

  @epmd_port 4369

  @doc """
  Creates the test's bridge and the coordinator namespace (namespaces are
  named ctx.netns_prefix, default "cd", then "-<id>-..."). Returns
  %{id, bridge, ns_prefix, prefix4, prefix6, gateway, gateway6, coordinator_ns,
  coordinator_ip, coordinator_ip6, counter}.
  """
  def network!(ctx, attempt \\ 1) do
    id = :rand.uniform(0xFFFF) |> Integer.to_string(16) |> String.downcase()
    a = 200 + rem(:rand.uniform(1000), 50)
    b = :rand.uniform(254)
    bridge = "cdb#{id}"

    net = %{
      id: id,
      bridge: bridge,
      prefix4: "10.#{a}.#{b}",
      prefix6: "fd00:cd:#{id}:",
      gateway: "10.#{a}.#{b}.1",
      gateway6: "fd00:cd:#{id}::1",
      ns_prefix: "#{Map.get(ctx, :netns_prefix, "cd")}-#{id}-",
      coordinator_ns: "#{Map.get(ctx, :netns_prefix, "cd")}-#{id}-coord",
      coordinator_ip: "10.#{a}.#{b}.2",
      coordinator_ip6: "fd00:cd:#{id}::2",
      counter: :counters.new(1, []),
      dir: ctx.dir
    }

    cond do
      subnet_in_use?(net.prefix4) and attempt < 5 ->
        network!(ctx, attempt + 1)

      match?({_, 0}, ip(["link", "add", bridge, "type", "bridge"], :quiet)) ->
        record(["link", bridge])
        ExUnit.Callbacks.on_exit({__MODULE__, id}, fn -> teardown(ctx, net) end)
        ip!(["addr", "add", "#{net.gateway}/24", "dev", bridge])
        sysctl("net.ipv6.conf.#{bridge}.disable_ipv6", "0")
        ip!(["-6", "addr", "add", "#{net.gateway6}/64", "dev", bridge, "nodad"])
        ip!(["link", "set", bridge, "up"])
        plug!(net, net.coordinator_ns, "c", net.coordinator_ip, net.coordinator_ip6)
        net

      attempt < 5 ->
        network!(ctx, attempt + 1)

      true ->
        flunk("could not create a bridge for pod-like hosts")
    end
  end

  @doc """
  Starts a pod: a namespace plugged into the bridge, its epmd on 4369 and a
  real BEAM node. Options:
    ipv6: true      the node is app@<ipv6 address> (-proto_dist inet6_tcp)
    host: "h.svc"   the node's host part instead of its address (the caller
                    makes the name resolvable: etc_hosts:, inetrc in erl_args);
                    or a function of the pod's address that returns it
                    (Kubernetes' 10-1-2-3.<ns>.pod.<domain> names)
    etc_hosts: [{name, ip}]  extra /etc/hosts lines inside the pod
    elixir: true    an Elixir node (`elixir --name`) instead of `erl`
    erl_args: [...] more arguments for erl
    cookie: "..."   another cookie than the test's
    connect_all: false
    wait: false     do not wait for the node to answer the observer
  Returns %{ns, ip, ip6, node, app, opts}.
  """
  def start_pod!(ctx, net, app, opts \\ []) do
    :counters.add(net.counter, 1, 1)
    n = :counters.get(net.counter, 1)
    host_n = 10 + n
    ns = "#{net.ns_prefix}p#{n}"
    ip4 = "#{net.prefix4}.#{host_n}"
    ip6 = "#{net.prefix6}:#{Integer.to_string(host_n, 16) |> String.downcase()}"
    plug!(net, ns, "p#{n}", ip4, ip6)
    write_etc_hosts(ns, Keyword.get(opts, :etc_hosts, []))
    start_pod_epmd!(ctx, ns, ip4)

    addr = if opts[:ipv6], do: ip6, else: ip4

    host =
      case Keyword.get(opts, :host, addr) do
        f when is_function(f, 1) -> f.(addr)
        h -> h
      end

    opts = if Keyword.has_key?(opts, :host), do: Keyword.put(opts, :host, host), else: opts

    node = :"#{app}@#{host}"

    if Keyword.has_key?(opts, :host), do: ObserverEpmd.add_host(host, parse_ip!(addr))

    pod = %{ns: ns, ip: ip4, ip6: ip6, node: node, app: app, opts: opts}
    start_node(ctx, pod)
    pod
  end

  @doc "Starts (again) the pod's BEAM node, e.g. after kill_node/2."
  def start_node(ctx, pod) do
    opts = pod.opts
    cookie = Keyword.get(opts, :cookie, ctx.cookie)
    :erlang.set_cookie(pod.node, String.to_atom(cookie))

    proto = if opts[:ipv6], do: ["-proto_dist", "inet6_tcp"], else: []

    connect_all =
      if Keyword.get(opts, :connect_all, true), do: [], else: ["-kernel", "connect_all", "false"]

    base =
      ["-start_epmd", "false", "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"] ++
        proto ++ connect_all ++ Keyword.get(opts, :erl_args, [])

    {cmd, args} =
      if opts[:elixir] do
        {"elixir",
         [
           "--name",
           "#{pod.node}",
           "--cookie",
           cookie,
           "--erl",
           Enum.join(base, " "),
           "-e",
           "Process.sleep(:infinity)"
         ]}
      else
        {"erl", ["-noinput", "-name", "#{pod.node}", "-setcookie", cookie] ++ base}
      end

    log = Path.join(ctx.dir, "#{pod.node}.log" |> String.replace(":", "_"))
    exe = System.find_executable(cmd)

    Procs.spawn(
      ctx.dir,
      :node,
      "#{pod.node}",
      "ip",
      ["netns", "exec", pod.ns, exe | args],
      pod_env(),
      log
    )

    if Keyword.get(opts, :wait, true), do: Harness.wait_node_up(pod.node)
    pod.node
  end

  @doc "SIGKILLs the pod's epmd (the host's EPMD is down; its node keeps running)."
  def kill_epmd(ctx, pod) do
    for p <- Procs.list(ctx.dir, :epmd), p.status == :running, p.label == "epmd-#{pod.ns}" do
      Procs.signal(p.os_pid, "KILL")
      Procs.wait_exit(p.os_pid, 5_000)
    end

    :ok
  end

  @doc "Starts the pod's epmd again (after kill_epmd/2)."
  def start_epmd(ctx, pod), do: start_pod_epmd!(ctx, pod.ns, pod.ip)

  @doc "SIGKILLs the pod's node (the pod, its address and epmd stay)."
  def kill_node(ctx, pod), do: Harness.kill_node(ctx, pod.node)

  @doc "Stops the pod's node and epmd and removes its namespace (the pod is gone)."
  def stop_pod(ctx, pod) do
    for p <- Procs.list(ctx.dir),
        p.status == :running,
        p.label in ["#{pod.node}", "epmd-#{pod.ns}"] do
      Procs.signal(p.os_pid, "KILL")
      Procs.wait_exit(p.os_pid, 5_000)
    end

    :erlang.disconnect_node(pod.node)
    if pod.opts[:host], do: ObserverEpmd.remove_host(pod.opts[:host])
    ip(["netns", "del", pod.ns], :quiet)
    File.rm_rf("/etc/netns/#{pod.ns}")
    :ok
  end

  @doc """
  Starts `clusterd run -c config` inside the coordinator namespace (its own
  epmd on 4369 there). Name clusterd clusterd@<net.coordinator_ip> in the
  config. Options as Harness.start_clusterd (label:, args:, env:).
  """
  def start_clusterd!(ctx, net, config, opts \\ []) do
    ensure_coordinator_epmd!(ctx, net)
    label = Keyword.get(opts, :label, "clusterd")
    log = Path.join(ctx.dir, "#{label}.log")
    if File.exists?(log), do: File.write!(log, "=== restarted ===\n", [:append])
    args = ["run", "-c", config] ++ Keyword.get(opts, :args, [])
    env = Harness.env(ctx, [{"ERL_EPMD_PORT", false} | Keyword.get(opts, :env, [])])

    os_pid =
      Procs.spawn(
        ctx.dir,
        :clusterd,
        label,
        "ip",
        ["netns", "exec", net.coordinator_ns, Harness.bin() | args],
        env,
        log
      )

    %{
      os_pid: os_pid,
      log: log,
      label: label,
      node: Keyword.get(opts, :node, :"clusterd@#{net.coordinator_ip}")
    }
  end

  @doc "Runs a clusterd CLI command inside the coordinator namespace (as Harness.run_cli)."
  def run_cli(ctx, net, args, opts \\ []) do
    ensure_coordinator_epmd!(ctx, net)
    env = [{"ERL_EPMD_PORT", false} | Keyword.get(opts, :env, [])]
    n = System.unique_integer([:positive])
    out = Path.join(ctx.dir, "cli-#{n}.out")
    err = Path.join(ctx.dir, "cli-#{n}.err")
    script = ~S'o=$1; e=$2; shift 2; exec timeout -k 5 60 "$@" >"$o" 2>"$e" </dev/null'
    env = for {k, v} <- Harness.env(ctx, env), do: {k, v || nil}
    cmd = ["ip", "netns", "exec", net.coordinator_ns, Harness.bin() | args]
    {_, status} = System.cmd("/bin/sh", ["-c", script, "sh", out, err | cmd], env: env)
    r = %{status: status, out: File.read!(out), err: File.read!(err)}

    if Harness.sanitizer_report?(r.err) do
      flunk("sanitizer reported errors in `clusterd #{Enum.join(args, " ")}`:\n" <> r.err)
    end

    r
  end

  @doc """
  Writes files that `ip netns exec` bind-mounts over /etc inside namespace
  `ns` (/etc/netns/NS/FILE): e.g. "resolv.conf" or "hosts" for clusterd.
  The file replaces the machine's whole: a "hosts" lacks localhost and the
  machine's own host name (every namespace shares the machine's host name)
  unless given, and a "resolv.conf" decides where that name goes.
  """
  def put_etc(ns, file, content) do
    dir = "/etc/netns/#{ns}"
    File.mkdir_p!(dir)
    File.write!(Path.join(dir, file), content)
  end

  @doc "Runs a command inside a namespace; returns {output, status}."
  def exec(ns, cmd, args),
    do: System.cmd("ip", ["netns", "exec", ns, cmd | args], stderr_to_stdout: true)

  # ------------------------------------------------------------ internals

  defp pod_env do
    [
      {"ERL_EPMD_PORT", false},
      {"CLUSTERD_TEST_RUN", Harness.run_id()},
      {"RELEASE_COOKIE", false},
      {"ERL_FLAGS", false},
      {"ERL_AFLAGS", false},
      {"ERL_ZFLAGS", false}
    ]
  end

  defp ensure_coordinator_epmd!(ctx, net) do
    label = "epmd-#{net.coordinator_ns}"

    unless Enum.any?(Procs.list(ctx.dir, :epmd), &(&1.label == label and &1.status == :running)) do
      start_pod_epmd!(ctx, net.coordinator_ns, net.coordinator_ip)
    end
  end

  defp start_pod_epmd!(ctx, ns, ip4) do
    log = Path.join(ctx.dir, "epmd-#{ns}.log")
    exe = System.find_executable("epmd")

    Procs.spawn(
      ctx.dir,
      :epmd,
      "epmd-#{ns}",
      "ip",
      ["netns", "exec", ns, exe, "-port", "#{@epmd_port}"],
      pod_env(),
      log
    )

    addr = parse_ip!(ip4)

    case Harness.wait_until(5_000, fn -> match?({:ok, _}, Epmd.names(@epmd_port, 500, addr)) end) do
      {:ok, _} -> :ok
      :timeout -> flunk("epmd in #{ns} did not answer on #{ip4}:#{@epmd_port}")
    end
  end

  # A namespace with a veth pair into the bridge, loopback up, both addresses
  # and a default route via the gateway.
  defp plug!(net, ns, tag, ip4, ip6) do
    host_if = "cdv#{net.id}#{tag}"
    pod_if = "cdq#{net.id}#{tag}"
    ip!(["netns", "add", ns])
    record(["netns", ns])
    ip!(["link", "add", host_if, "type", "veth", "peer", "name", pod_if])
    ip!(["link", "set", pod_if, "netns", ns])
    ip!(["link", "set", host_if, "master", net.bridge])
    ip!(["link", "set", host_if, "up"])
    in_ns = fn args -> ip!(["-n", ns | args]) end
    in_ns.(["link", "set", "lo", "up"])
    in_ns.(["link", "set", pod_if, "name", "eth0"])
    in_ns.(["addr", "add", "#{ip4}/24", "dev", "eth0"])
    in_ns.(["-6", "addr", "add", "#{ip6}/64", "dev", "eth0", "nodad"])
    in_ns.(["link", "set", "eth0", "up"])
    in_ns.(["route", "add", "default", "via", net.gateway])
    in_ns.(["-6", "route", "add", "default", "via", net.gateway6])
    :ok
  end

  defp write_etc_hosts(_ns, []), do: :ok

  defp write_etc_hosts(ns, entries) do
    lines = ["127.0.0.1 localhost", "::1 localhost"] ++ for({h, a} <- entries, do: "#{a} #{h}")
    put_etc(ns, "hosts", Enum.join(lines, "\n") <> "\n")
  end

  defp teardown(ctx, net) do
    # Processes first: clusterd gently (ASan prints its report on exit).
    for p <- Procs.list(ctx.dir, :clusterd), p.status == :running do
      Procs.signal(p.os_pid, "TERM")

      if Procs.wait_exit(p.os_pid, 10_000) == :timeout do
        Procs.signal(p.os_pid, "KILL")
        Procs.wait_exit(p.os_pid, 5_000)
      end
    end

    for p <- Procs.list(ctx.dir), p.kind != :clusterd, p.status == :running do
      Procs.signal(p.os_pid, "KILL")
      Procs.wait_exit(p.os_pid, 5_000)
    end

    for p <- Procs.list(ctx.dir),
        p.kind == :node,
        do: :erlang.disconnect_node(String.to_atom(p.label))

    {out, _} = System.cmd("ip", ["netns", "list"])

    for line <- String.split(out, "\n", trim: true),
        [ns | _] = String.split(line),
        String.starts_with?(ns, net.ns_prefix) do
      ip(["netns", "del", ns], :quiet)
      File.rm_rf("/etc/netns/#{ns}")
    end

    ip(["link", "del", net.bridge], :quiet)
    :ok
  end

  defp subnet_in_use?(prefix4) do
    {out, _} = System.cmd("ip", ["-4", "addr", "show"])
    String.contains?(out, " #{prefix4}.")
  end

  defp record(entry) do
    File.write!(Path.join(Harness.tmp_root(), "netns"), Enum.join(entry, " ") <> "\n", [:append])
  end

  defp sysctl(key, value) do
    path = "/proc/sys/" <> String.replace(key, ".", "/")
    _ = File.write(path, value)
    :ok
  end

  defp parse_ip!(text) do
    {:ok, addr} = :inet.parse_address(String.to_charlist(text))
    addr
  end

  defp ip!(args) do
    case ip(args, :loud) do
      {_, 0} -> :ok
      {out, code} -> flunk("ip #{Enum.join(args, " ")} failed (#{code}): #{out}")
    end
  end

  defp ip(args, _mode), do: System.cmd("ip", args, stderr_to_stdout: true)
end
