# The integration harness. The observer (this BEAM: hidden, named
# observer@127.0.0.1, registered in no EPMD) starts real epmd and BEAM nodes
# as OS processes, starts clusterd, and judges the cluster by asking every
# member for erlang:nodes() itself. clusterd's own view is never the judge.
#
# Every test gets a directory under test/tmp/, its own epmd on a free port and
# a fresh random cookie; Clusterd.Harness.setup_test/1 registers an on_exit
# that stops everything the test started, by pid, and fails the test if a
# sanitizer reported anything in clusterd's output.

defmodule Clusterd.Harness do
  import ExUnit.Assertions

  alias Clusterd.{Epmd, ObserverEpmd, Procs}

  @host "127.0.0.1"
  @sanitizer_markers [
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "VALGRIND-ERROR-BEGIN"
  ]

  # ---------------------------------------------------------------- paths

  def root, do: Path.expand("../..", __DIR__)

  @doc "The clusterd binary under test: $CLUSTERD_BIN, default priv/clusterd."
  def bin, do: Path.expand(System.get_env("CLUSTERD_BIN") || "priv/clusterd", root())

  def tmp_root,
    do: Path.expand(System.get_env("CLUSTERD_TEST_TMP") || "test/tmp/integration", root())

  @doc "This run's tag, put in every child's environment (run-integration.sh reaps by it)."
  def run_id, do: :persistent_term.get({__MODULE__, :run_id})

  # ------------------------------------------------------------- observer

  @doc "Called once by test_helper.exs: process registry and distribution."
  def start_observer! do
    run_id = System.get_env("CLUSTERD_TEST_RUN") || "manual-#{System.os_time(:millisecond)}"
    :persistent_term.put({__MODULE__, :run_id}, run_id)
    File.mkdir_p!(tmp_root())
    {:ok, _} = Procs.start(Path.join(tmp_root(), "pids"))

    if :net_kernel.epmd_module() != ObserverEpmd do
      raise "the observer must run with --erl \"-epmd_module Elixir.Clusterd.ObserverEpmd\" " <>
              "(use test/run-integration.sh)"
    end

    {:ok, _} =
      :net_kernel.start(:"observer@#{@host}", %{
        name_domain: :longnames,
        hidden: true,
        dist_listen: false
      })

    :ok
  end

  # ----------------------------------------------------------- per test

  @doc """
  Per-test setup: directory, epmd, cookie and cookie file. Returns the test
  context map; cleanup runs in on_exit.
  """
  def setup_test(context) do
    mod = context.module |> inspect() |> String.replace(~r/^Clusterd\.|Test$/, "")
    full = "#{mod}-#{context.test}"
    hash = :erlang.phash2(full) |> Integer.to_string(36)

    slug =
      (full |> String.replace(~r/[^A-Za-z0-9_.-]+/, "_") |> String.slice(0, 90)) <> "-" <> hash

    dir = Path.join(tmp_root(), slug)
    File.rm_rf!(dir)
    File.mkdir_p!(dir)

    cookie = random_cookie()
    :erlang.set_cookie(String.to_atom(cookie))

    ctx = %{dir: dir, cookie: cookie, cookie_file: nil, epmd_port: nil, epmd_pid: nil}
    ExUnit.Callbacks.on_exit(fn -> cleanup(ctx) end)

    {port, pid} = start_epmd(dir)
    ObserverEpmd.use_port(port)
    cookie_file = write_cookie_file(dir, "cookie", cookie)
    %{ctx | cookie_file: cookie_file, epmd_port: port, epmd_pid: pid}
  end

  def random_cookie do
    "CT" <> (:crypto.strong_rand_bytes(15) |> Base.encode32(padding: false))
  end

  @doc "Writes a cookie file with `mode` (default 0600) and returns its path."
  def write_cookie_file(ctx_or_dir, name, cookie, mode \\ 0o600)

  def write_cookie_file(%{dir: dir}, name, cookie, mode),
    do: write_cookie_file(dir, name, cookie, mode)

  def write_cookie_file(dir, name, cookie, mode) do
    path = Path.join(dir, name)
    File.touch!(path)
    File.chmod!(path, 0o600)
    File.write!(path, cookie)
    File.chmod!(path, mode)
    path
  end

  @doc "The environment every child gets: our epmd, and a run tag for the safety net."
  def env(ctx, extra \\ []) do
    [
      {"ERL_EPMD_PORT", "#{ctx.epmd_port}"},
      {"CLUSTERD_TEST_RUN", run_id()},
      {"RELEASE_COOKIE", false},
      {"ERL_FLAGS", false},
      {"ERL_AFLAGS", false},
      {"ERL_ZFLAGS", false}
    ] ++ extra
  end

  defp cleanup(ctx) do
    group = ctx.dir

    # clusterd first, gently, so that ASan gets to print its leak report.
    for p <- Procs.list(group, :clusterd), p.status == :running do
      Procs.signal(p.os_pid, "TERM")

      if Procs.wait_exit(p.os_pid, 10_000) == :timeout do
        Procs.signal(p.os_pid, "KILL")
        Procs.wait_exit(p.os_pid, 5_000)
      end
    end

    for p <- Procs.list(group), p.kind not in [:clusterd, :epmd], p.status == :running do
      Procs.signal(p.os_pid, "KILL")
    end

    for p <- Procs.list(group), p.kind == :node, do: Procs.wait_exit(p.os_pid, 5_000)

    for p <- Procs.list(group),
        p.kind == :node,
        do: :erlang.disconnect_node(String.to_atom(p.label))

    for p <- Procs.list(group, :epmd), p.status == :running do
      Procs.signal(p.os_pid, "KILL")
      Procs.wait_exit(p.os_pid, 5_000)
    end

    ObserverEpmd.use_port(nil)

    findings =
      for p <- Procs.list(group, :clusterd),
          text = read_log(p.log),
          sanitizer_report?(text),
          do: "#{p.log}:\n" <> sanitizer_excerpt(text)

    if findings != [] do
      raise ExUnit.AssertionError,
        message: "sanitizer reported errors in clusterd's output:\n" <> Enum.join(findings, "\n")
    end

    :ok
  end

  # ---------------------------------------------------------------- epmd

  defp start_epmd(dir, attempt \\ 1) do
    port = free_port()
    log = Path.join(dir, "epmd.log")
    env = [{"ERL_EPMD_PORT", false}, {"CLUSTERD_TEST_RUN", run_id()}]

    pid =
      Procs.spawn(dir, :epmd, "epmd", "epmd", ["-port", "#{port}", "-address", @host], env, log)

    case wait_until(5_000, fn -> match?({:ok, _}, Epmd.names(port, 500)) end) do
      {:ok, _} ->
        {port, pid}

      :timeout when attempt < 3 ->
        Procs.signal(pid, "KILL")
        start_epmd(dir, attempt + 1)

      :timeout ->
        flunk("epmd did not start on port #{port}: #{read_log(log)}")
    end
  end

  @doc "A TCP port that was free a moment ago."
  def free_port do
    {:ok, s} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, reuseaddr: true)
    {:ok, port} = :inet.port(s)
    :gen_tcp.close(s)
    port
  end

  @doc "Names in this test's epmd."
  def epmd_names(ctx) do
    {:ok, names} = Epmd.names(ctx.epmd_port)
    Enum.map(names, &elem(&1, 0))
  end

  # --------------------------------------------------------------- nodes

  def node_name(short), do: :"#{short}@#{@host}"

  @doc """
  Starts real `erl` nodes (all at once) and waits until the observer can
  reach each one. Options: cookie:, connect_all: false, args: [...].
  Returns the node atoms.
  """
  def start_erl_nodes(ctx, shorts, opts \\ []) do
    nodes = Enum.map(shorts, &start_erl(ctx, &1, Keyword.put(opts, :wait, false)))
    Enum.each(nodes, &wait_node_up/1)
    nodes
  end

  def start_erl(ctx, short, opts \\ []) do
    node = node_name(short)
    cookie = Keyword.get(opts, :cookie, ctx.cookie)

    args =
      ["-noinput", "-name", "#{node}", "-setcookie", cookie, "-start_epmd", "false"] ++
        ["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"] ++
        connect_all_args(opts) ++ Keyword.get(opts, :args, [])

    start_member(ctx, node, cookie, "erl", args, opts)
  end

  @doc "Starts a real Elixir node (`elixir --name ... -e 'Process.sleep(:infinity)'`)."
  def start_elixir(ctx, short, opts \\ []) do
    node = node_name(short)
    cookie = Keyword.get(opts, :cookie, ctx.cookie)

    erl_args =
      Enum.join(
        ["-start_epmd false +sbwt none +sbwtdcpu none +sbwtdio none"] ++
          connect_all_args(opts) ++ Keyword.get(opts, :args, []),
        " "
      )

    args = [
      "--name",
      "#{node}",
      "--cookie",
      cookie,
      "--erl",
      erl_args,
      "-e",
      "Process.sleep(:infinity)"
    ]

    start_member(ctx, node, cookie, "elixir", args, opts)
  end

  defp connect_all_args(opts) do
    if Keyword.get(opts, :connect_all, true), do: [], else: ["-kernel", "connect_all", "false"]
  end

  defp start_member(ctx, node, cookie, cmd, args, opts) do
    # Per-node cookie in the observer, so that a member with another cookie
    # is still reachable by the judge.
    :erlang.set_cookie(node, String.to_atom(cookie))
    log = Path.join(ctx.dir, "#{node}.log")
    Procs.spawn(ctx.dir, :node, "#{node}", cmd, args, env(ctx), log)
    if Keyword.get(opts, :wait, true), do: wait_node_up(node)
    node
  end

  def wait_node_up(node, timeout \\ 30_000) do
    case wait_until(timeout, fn -> Node.ping(node) == :pong end) do
      {:ok, _} -> node
      :timeout -> flunk("node #{node} did not come up within #{timeout} ms")
    end
  end

  @doc "The OS pid of the running process of `node` (started by this test)."
  def os_pid_of(ctx, node) do
    label = "#{node}"

    case Enum.filter(Procs.list(ctx.dir, :node), &(&1.label == label and &1.status == :running)) do
      [p | _] -> p.os_pid
      [] -> flunk("no running process for #{node}")
    end
  end

  @doc "Signals a member (default SIGKILL) and waits until it is gone."
  def kill_node(ctx, node, sig \\ "KILL") do
    pid = os_pid_of(ctx, node)
    Procs.signal(pid, sig)
    {:ok, _} = Procs.wait_exit(pid, 10_000)
    :erlang.disconnect_node(node)
    {:ok, _} = wait_until(10_000, fn -> node not in Node.list(:connected) end)
    :ok
  end

  # --------------------------------------------------------- observation

  @doc "erlang:nodes(Type) as the member itself reports it: {:ok, list} or {:error, why}."
  def nodes_of(node, type \\ :visible) do
    {:ok, :erpc.call(node, :erlang, :nodes, [type], 2000)}
  catch
    kind, reason -> {:error, {kind, reason}}
  end

  @doc "Whether `member` answers and lists `peer` in erlang:nodes(type)."
  def peer?(member, peer, type \\ :visible) do
    case nodes_of(member, type) do
      {:ok, list} -> peer in list
      {:error, _} -> false
    end
  end

  @doc "Whether `member` answers and does not list `peer` in erlang:nodes(type)."
  def not_peer?(member, peer, type \\ :visible) do
    case nodes_of(member, type) do
      {:ok, list} -> peer not in list
      {:error, _} -> false
    end
  end

  @doc "Pairs {a, b} of `members` where a does not see b (or a did not answer)."
  def missing_links(members) do
    for a <- members,
        seen = nodes_of(a),
        b <- members,
        b != a,
        not match?({:ok, list} when is_list(list), seen) or b not in elem(seen, 1),
        do: {a, b}
  end

  def full_mesh?(members), do: missing_links(members) == []

  def mesh_report(members) do
    members
    |> Enum.map(fn m ->
      case nodes_of(m) do
        {:ok, l} -> "  #{m} sees #{inspect(Enum.sort(l))}"
        {:error, e} -> "  #{m} did not answer: #{inspect(e)}"
      end
    end)
    |> Enum.join("\n")
  end

  @doc """
  Waits (polling) until the observer sees a full mesh of `members`; fails
  with every member's view and the tail of clusterd's logs otherwise.
  """
  def wait_for_full_mesh(ctx, members, timeout \\ 20_000) do
    case wait_until(timeout, fn -> full_mesh?(members) end) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk("""
        observer: no full mesh after #{timeout} ms
        missing links: #{inspect(missing_links(members))}
        #{mesh_report(members)}
        #{clusterd_logs_tail(ctx)}
        """)
    end
  end

  @doc "Waits until `cnode` is a hidden peer of every member (clusterd is connected to all)."
  def wait_for_hidden_peer(ctx, members, cnode, timeout \\ 20_000) do
    case wait_until(timeout, fn -> Enum.all?(members, &peer?(&1, cnode, :hidden)) end) do
      {:ok, _} ->
        :ok

      :timeout ->
        views = for m <- members, do: "  #{m} hidden peers: #{inspect(nodes_of(m, :hidden))}"

        flunk(
          "#{cnode} is not connected to every member after #{timeout} ms\n" <>
            Enum.join(views, "\n") <> "\n" <> clusterd_logs_tail(ctx)
        )
    end
  end

  @doc "Connection id of every link between members, as each member reports it."
  def connection_ids(members) do
    for m <- members,
        {peer, %{connection_id: id}} <-
          :erpc.call(m, :erlang, :nodes, [:visible, %{connection_id: true}], 2000),
        peer in members,
        into: %{},
        do: {{m, peer}, id}
  end

  @doc "Evaluates Erlang source (ending with '.') on `node` via erl_eval; returns the value."
  def eval_on(node, src, bindings \\ []) do
    {:ok, tokens, _} = :erl_scan.string(String.to_charlist(src))
    {:ok, exprs} = :erl_parse.parse_exprs(tokens)

    b =
      Enum.reduce(bindings, :erl_eval.new_bindings(), fn {k, v}, acc ->
        :erl_eval.add_binding(k, v, acc)
      end)

    {:value, value, _} = :erpc.call(node, :erl_eval, :exprs, [exprs, b], 5000)
    value
  end

  @linkmon_src ~S"""
  case whereis(clusterd_test_linkmon) of
    undefined -> ok;
    Old -> unregister(clusterd_test_linkmon), exit(Old, kill)
  end,
  P = spawn(fun() ->
        ok = net_kernel:monitor_nodes(true, #{node_type => visible, nodedown_reason => true}),
        Loop = fun L(Acc) ->
                 receive
                   {nodedown, N, Info} -> L([{N, Info} | Acc]);
                   {get, From, Ref} -> From ! {Ref, lists:reverse(Acc)}, L(Acc);
                   stop -> ok;
                   _ -> L(Acc)
                 end
               end,
        Loop([])
      end),
  true = register(clusterd_test_linkmon, P),
  P.
  """

  @doc """
  Starts a process on each member that records every nodedown of a visible
  peer (net_kernel:monitor_nodes/2). Read them back with link_events/1.
  """
  def install_link_monitors(members) do
    for m <- members, do: eval_on(m, @linkmon_src)
    :ok
  end

  @doc "nodedown events recorded on each member since install: %{member => [{peer, info}]}."
  def link_events(members) do
    for m <- members, into: %{} do
      ref = make_ref()
      send({:clusterd_test_linkmon, m}, {:get, self(), ref})

      receive do
        {^ref, events} -> {m, events}
      after
        5000 -> flunk("link monitor on #{m} does not answer")
      end
    end
  end

  @doc """
  Processes on `node` that look like clusterd's event forwarders: started by
  erl_eval (erlang:spawn(erl_eval, eval_str, [Src]) or similar), or linked to
  or monitoring a process of `cnode`. The test's own link monitor is excluded.
  Returns [{pid, info}].
  """
  def forwarders(node, cnode) do
    :erpc.call(node, :erlang, :processes, [], 5000)
    |> Enum.map(fn p ->
      {p,
       :erpc.call(
         node,
         :erlang,
         :process_info,
         [
           p,
           [:registered_name, :initial_call, :current_function, :dictionary, :links, :monitors]
         ],
         5000
       )}
    end)
    |> Enum.filter(fn
      {_, :undefined} -> false
      {_, info} -> forwarder?(info, cnode)
    end)
  end

  defp forwarder?(info, cnode) do
    dict = Keyword.get(info, :dictionary, [])
    on_cnode? = fn x -> is_pid(x) and node(x) == cnode end

    Keyword.get(info, :registered_name) != :clusterd_test_linkmon and
      (match?({:erl_eval, _, _}, info[:initial_call]) or
         match?({:erl_eval, _, _}, dict[:"$initial_call"]) or
         Enum.any?(info[:links] || [], on_cnode?) or
         Enum.any?(info[:monitors] || [], fn
           {:process, p} when is_pid(p) -> node(p) == cnode
           {:process, {_, n}} -> n == cnode
           _ -> false
         end))
  end

  # ------------------------------------------------------------- clusterd

  @doc """
  Writes a clusterd config and returns its path. Options: file:, name:,
  cookie_file:, connect_timeout:, rpc_timeout:, poll_interval:, node_extra:
  (raw YAML lines under node:), reconcile_extra: (raw YAML lines under
  reconcile:), topologies: [{name, strategy, [{key, value}]}],
  hosts: (shortcut for one Cluster.Strategy.Epmd topology "test").
  """
  def write_config(ctx, opts) do
    file = Path.join(ctx.dir, Keyword.get(opts, :file, "clusterd.yaml"))
    File.write!(file, config_yaml(ctx, opts))
    file
  end

  def config_yaml(ctx, opts) do
    topologies =
      Keyword.get_lazy(opts, :topologies, fn ->
        hosts = Keyword.fetch!(opts, :hosts)
        [{"test", "Cluster.Strategy.Epmd", [hosts: Enum.map(hosts, &to_string/1)]}]
      end)

    node_lines =
      [
        "  name: #{Keyword.get(opts, :name, "clusterd@#{@host}")}",
        "  cookie_file: #{Keyword.get(opts, :cookie_file, ctx.cookie_file)}",
        "  connect_timeout: #{Keyword.get(opts, :connect_timeout, 2000)}",
        "  rpc_timeout: #{Keyword.get(opts, :rpc_timeout, 3000)}"
      ] ++ Keyword.get(opts, :node_extra, [])

    topo_lines =
      for {name, strategy, config} <- topologies do
        ["  #{name}:", "    strategy: #{strategy}", "    config:"] ++
          for({k, v} <- config, do: "      #{k}: #{yaml_value(v)}")
      end

    Enum.join(
      ["node:"] ++
        node_lines ++
        [
          "reconcile:",
          "  poll_interval: #{Keyword.get(opts, :poll_interval, 2000)}"
        ] ++
        Keyword.get(opts, :reconcile_extra, []) ++
        ["topologies:"] ++
        List.flatten(topo_lines),
      "\n"
    ) <> "\n"
  end

  defp yaml_value(v) when is_integer(v), do: "#{v}"
  defp yaml_value(v) when is_boolean(v), do: "#{v}"
  defp yaml_value(v) when is_list(v), do: "[" <> Enum.map_join(v, ", ", &yaml_value/1) <> "]"
  defp yaml_value(v) when is_atom(v), do: yaml_value(Atom.to_string(v))
  defp yaml_value(v) when is_binary(v), do: inspect(v)

  @doc """
  Starts `clusterd run -c config`. Options: label: (log file name, default
  "clusterd"), args: extra arguments (e.g. ["-v"]), env: extra environment.
  Returns a handle %{os_pid, log, label, node}.
  """
  def start_clusterd(ctx, config, opts \\ []) do
    assert File.exists?(bin()),
           "clusterd binary not found: #{bin()} (set CLUSTERD_BIN or run make)"

    label = Keyword.get(opts, :label, "clusterd")
    log = Path.join(ctx.dir, "#{label}.log")
    if File.exists?(log), do: File.write!(log, "=== restarted ===\n", [:append])
    args = ["run", "-c", config] ++ Keyword.get(opts, :args, [])

    os_pid =
      Procs.spawn(
        ctx.dir,
        :clusterd,
        label,
        bin(),
        args,
        env(ctx, Keyword.get(opts, :env, [])),
        log
      )

    %{
      os_pid: os_pid,
      log: log,
      label: label,
      node: Keyword.get(opts, :node, :"clusterd@#{@host}")
    }
  end

  @doc "Signals clusterd (default SIGTERM) and waits for it: {:ok, exit_status} or :timeout."
  def stop_clusterd(h, sig \\ "TERM", timeout \\ 15_000) do
    Procs.signal(h.os_pid, sig)
    Procs.wait_exit(h.os_pid, timeout)
  end

  @doc "Sends a signal (\"HUP\", \"TERM\", ...) to clusterd."
  def signal(h, sig), do: Procs.signal(h.os_pid, sig)

  @doc "Waits for clusterd to exit on its own: {:ok, exit_status} or :timeout."
  def wait_exit(h, timeout), do: Procs.wait_exit(h.os_pid, timeout)

  def running?(h), do: match?(%{status: :running}, Procs.info(h.os_pid))

  def exit_status(h) do
    case Procs.info(h.os_pid) do
      %{status: {:exited, code}} -> code
      _ -> nil
    end
  end

  def clusterd_log(h), do: read_log(h.log)

  @doc "Waits until clusterd's log matches `regex`; returns the matching lines."
  def wait_for_log(ctx, h, regex, timeout \\ 20_000) do
    matching = fn ->
      clusterd_log(h) |> String.split("\n") |> Enum.filter(&Regex.match?(regex, &1))
    end

    case wait_until(timeout, fn -> matching.() != [] end) do
      {:ok, _} ->
        matching.()

      :timeout ->
        flunk("clusterd's log never matched #{inspect(regex)}\n" <> clusterd_logs_tail(ctx))
    end
  end

  def clusterd_logs_tail(ctx, lines \\ 40) do
    Procs.list(ctx.dir, :clusterd)
    |> Enum.map(fn p ->
      tail = read_log(p.log) |> String.split("\n") |> Enum.take(-lines) |> Enum.join("\n")
      "--- #{p.log} (#{inspect(p.status)}) last #{lines} lines:\n#{tail}"
    end)
    |> Enum.join("\n")
  end

  @doc """
  Runs a clusterd CLI command to completion (60 s cap). Returns %{status,
  out, err}. Fails the test if a sanitizer reported anything.
  """
  def run_cli(ctx, args, opts \\ []) do
    n = System.unique_integer([:positive])
    out = Path.join(ctx.dir, "cli-#{n}.out")
    err = Path.join(ctx.dir, "cli-#{n}.err")
    script = ~S'o=$1; e=$2; shift 2; exec timeout -k 5 60 "$@" >"$o" 2>"$e" </dev/null'
    env = for {k, v} <- env(ctx, Keyword.get(opts, :env, [])), do: {k, v || nil}
    {_, status} = System.cmd("/bin/sh", ["-c", script, "sh", out, err, bin() | args], env: env)
    r = %{status: status, out: read_log(out), err: read_log(err)}
    File.write!(Path.join(ctx.dir, "cli-#{n}.cmd"), Enum.join([bin() | args], " ") <> "\n")

    if sanitizer_report?(r.err) do
      flunk(
        "sanitizer reported errors in `clusterd #{Enum.join(args, " ")}`:\n" <>
          sanitizer_excerpt(r.err)
      )
    end

    r
  end

  def sanitizer_report?(text), do: Enum.any?(@sanitizer_markers, &String.contains?(text, &1))

  defp sanitizer_excerpt(text) do
    lines = String.split(text, "\n")

    i =
      Enum.find_index(lines, fn l -> Enum.any?(@sanitizer_markers, &String.contains?(l, &1)) end) ||
        0

    lines |> Enum.drop(max(i - 2, 0)) |> Enum.take(40) |> Enum.join("\n")
  end

  defp read_log(path) do
    case File.read(path) do
      {:ok, text} -> text
      {:error, _} -> ""
    end
  end

  # --------------------------------------------------------------- timing

  @doc """
  Polls `fun` every `interval` ms until it returns a truthy value ({:ok,
  value}) or `timeout` ms have passed (:timeout). Exceptions count as false.
  """
  def wait_until(timeout, fun, interval \\ 200) do
    deadline = System.monotonic_time(:millisecond) + timeout
    poll(fun, deadline, interval)
  end

  defp poll(fun, deadline, interval) do
    value =
      try do
        fun.()
      rescue
        _ -> false
      catch
        _, _ -> false
      end

    cond do
      value not in [false, nil] ->
        {:ok, value}

      System.monotonic_time(:millisecond) >= deadline ->
        :timeout

      true ->
        Process.sleep(interval)
        poll(fun, deadline, interval)
    end
  end

  @doc "Monotonic milliseconds since `t0`."
  def elapsed_ms(t0), do: System.monotonic_time(:millisecond) - t0
  def now_ms, do: System.monotonic_time(:millisecond)
end
