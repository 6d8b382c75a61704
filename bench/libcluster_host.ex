# Compiled by bench/libcluster_build.sh next to libcluster (never loaded by
# clusterd's tests): called by the benchmark observer over erpc inside a
# member node, it starts libcluster's Cluster.Supervisor there the way an
# application would, and reports what libcluster costs the member.

defmodule ClusterdBench.LibclusterHost do
  @holder :clusterd_bench_libcluster

  # Loads telemetry, jason and libcluster (in that order) and starts the
  # applications a libcluster user has running; returns the code memory each
  # library added (bytes). Called once per member before the clock starts.
  def prepare do
    {:ok, _} = Application.ensure_all_started(:logger)
    # libcluster logs every connect at info; the members' logs are not read
    Logger.configure(level: :warning)
    {:ok, _} = Application.ensure_all_started(:inets)
    {:ok, _} = Application.ensure_all_started(:ssl)
    dir = :filename.dirname(:code.which(Cluster.Supervisor))
    beams = for f <- File.ls!(dir), String.ends_with?(f, ".beam"), do: Path.rootname(f)

    code =
      for {lib, prefix} <- [telemetry: "telemetry", jason: "Elixir.Jason", libcluster: "Elixir.Cluster."],
          into: %{} do
        :erlang.garbage_collect()
        before = :erlang.memory(:code)

        for m <- beams, String.starts_with?(m, prefix),
            do: {:module, _} = :code.ensure_loaded(String.to_atom(m))

        {lib, :erlang.memory(:code) - before}
      end

    {:ok, _} = Application.ensure_all_started(:telemetry)
    code
  end

  # Starts Cluster.Supervisor with `topologies` under a process that stays
  # (a supervisor linked to the short-lived erpc process would stop with it).
  def start(topologies) do
    parent = self()

    spawn(fn ->
      Process.register(self(), @holder)
      {:ok, sup} = Cluster.Supervisor.start_link([topologies, [name: ClusterdBench.LibclusterSup]])
      send(parent, {:started, sup})

      receive do
        :stop -> :ok
      end
    end)

    receive do
      {:started, _sup} -> :ok
    after
      60_000 -> :timeout
    end
  end

  # Stops what start/1 started and returns once its supervisor is gone.
  def stop do
    case Process.whereis(ClusterdBench.LibclusterSup) do
      nil ->
        :ok

      sup ->
        ref = Process.monitor(sup)
        send(@holder, :stop)

        receive do
          {:DOWN, ^ref, _, _, _} -> :ok
        after
          10_000 -> :timeout
        end
    end
  end

  # Bytes held by libcluster's processes (its supervisor tree) and by
  # telemetry's, after a garbage collection of each.
  def process_memory do
    tree(Process.whereis(ClusterdBench.LibclusterSup)) ++ tree(Process.whereis(:telemetry_sup))
    |> Enum.map(fn pid ->
      :erlang.garbage_collect(pid)

      case Process.info(pid, :memory) do
        {:memory, m} -> m
        nil -> 0
      end
    end)
    |> Enum.sum()
  end

  # Reductions of libcluster's processes (CPU work done inside the VM).
  def reductions do
    tree(Process.whereis(ClusterdBench.LibclusterSup))
    |> Enum.map(fn pid ->
      case Process.info(pid, :reductions) do
        {:reductions, r} -> r
        nil -> 0
      end
    end)
    |> Enum.sum()
  end

  defp tree(nil), do: []

  defp tree(sup) do
    kids =
      try do
        Supervisor.which_children(sup)
      catch
        _, _ -> []
      end

    [sup] ++
      Enum.flat_map(kids, fn
        {_, pid, :supervisor, _} when is_pid(pid) -> tree(pid)
        {_, pid, _, _} when is_pid(pid) -> [pid]
        _ -> []
      end)
  end
end
