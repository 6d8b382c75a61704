# Every OS process the integration tests start goes through Clusterd.Procs:
# it owns the Erlang port (so a process outlives the test process that asked
# for it), records the OS pid, its exit status, its test group and kind, and
# appends the pid to a pid file that test/run-integration.sh uses as a last
# safety net. Processes are only ever signalled by their own recorded pid.

defmodule Clusterd.Procs do
  use GenServer

  defstruct [:os_pid, :port, :group, :kind, :label, :log, :started_at, status: :running]

  def start(pidfile), do: GenServer.start(__MODULE__, pidfile, name: __MODULE__)

  @doc """
  Runs `cmd args` with `env` (a list of {name, value | false}), stdout and
  stderr appended to `log`. Returns the OS pid (the process itself: the
  wrapper shell execs it).
  """
  def spawn(group, kind, label, cmd, args, env, log) do
    GenServer.call(__MODULE__, {:spawn, group, kind, label, cmd, args, env, log})
  end

  @doc "Sends `sig` (\"TERM\", \"KILL\", ...) to `os_pid` if it is one of ours and still running."
  def signal(os_pid, sig), do: GenServer.call(__MODULE__, {:signal, os_pid, sig})

  def info(os_pid), do: GenServer.call(__MODULE__, {:info, os_pid})

  def list(group), do: GenServer.call(__MODULE__, {:list, group})
  def list(group, kind), do: Enum.filter(list(group), &(&1.kind == kind))

  @doc "Waits for `os_pid` to exit: {:ok, exit_status} or :timeout."
  def wait_exit(os_pid, timeout) do
    deadline = System.monotonic_time(:millisecond) + timeout
    do_wait_exit(os_pid, deadline)
  end

  defp do_wait_exit(os_pid, deadline) do
    case info(os_pid) do
      %{status: {:exited, code}} ->
        {:ok, code}

      _ ->
        if System.monotonic_time(:millisecond) >= deadline do
          :timeout
        else
          Process.sleep(50)
          do_wait_exit(os_pid, deadline)
        end
    end
  end

  # -- server --

  @impl true
  def init(pidfile) do
    File.mkdir_p!(Path.dirname(pidfile))
    {:ok, %{procs: %{}, ports: %{}, pidfile: pidfile}}
  end

  @impl true
  def handle_call({:spawn, group, kind, label, cmd, args, env, log}, _from, st) do
    exe = System.find_executable(cmd) || cmd
    # sh is replaced by the command (exec), so the pid is the command's.
    script = ~S'log=$1; shift; exec "$@" >>"$log" 2>&1'

    port =
      Port.open({:spawn_executable, "/bin/sh"}, [
        :binary,
        :exit_status,
        args: ["-c", script, "sh", log, exe | args],
        env: Enum.map(env, fn {k, v} -> {to_charlist(k), v && to_charlist(v)} end)
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)
    File.write!(st.pidfile, "#{os_pid}\n", [:append])

    p = %__MODULE__{
      os_pid: os_pid,
      port: port,
      group: group,
      kind: kind,
      label: label,
      log: log,
      started_at: System.monotonic_time(:millisecond)
    }

    {:reply, os_pid,
     %{st | procs: Map.put(st.procs, os_pid, p), ports: Map.put(st.ports, port, os_pid)}}
  end

  def handle_call({:signal, os_pid, sig}, _from, st) do
    case st.procs do
      %{^os_pid => %{status: :running}} ->
        {_, code} = System.cmd("kill", ["-#{sig}", "#{os_pid}"], stderr_to_stdout: true)
        {:reply, if(code == 0, do: :ok, else: :not_running), st}

      _ ->
        {:reply, :not_running, st}
    end
  end

  def handle_call({:info, os_pid}, _from, st), do: {:reply, Map.get(st.procs, os_pid), st}

  def handle_call({:list, group}, _from, st) do
    procs =
      st.procs
      |> Map.values()
      |> Enum.filter(&(&1.group == group))
      |> Enum.sort_by(& &1.started_at)

    {:reply, procs, st}
  end

  @impl true
  def handle_info({port, {:exit_status, code}}, st) do
    case Map.pop(st.ports, port) do
      {nil, _} ->
        {:noreply, st}

      {os_pid, ports} ->
        procs = Map.update!(st.procs, os_pid, &%{&1 | status: {:exited, code}})
        {:noreply, %{st | ports: ports, procs: procs}}
    end
  end

  def handle_info(_msg, st), do: {:noreply, st}
end
