# A silent member: a TCP listener registered in EPMD under a node name. It
# accepts every connection and never reads or writes, so a distribution
# handshake with it can only time out. Not a fake BEAM: it speaks nothing.

defmodule Clusterd.SilentListener do
  defstruct [:pid, :name, :node, :port]

  @doc "Registers `name` in the epmd on `epmd_port` and starts accepting. Returns %SilentListener{}."
  def start(epmd_port, name) do
    parent = self()
    ref = make_ref()

    pid =
      spawn(fn ->
        {listen, port, epmd_sock} = Clusterd.Epmd.listen_registered(epmd_port, name)
        send(parent, {ref, port})
        loop(listen, epmd_sock, [])
      end)

    receive do
      {^ref, port} ->
        %__MODULE__{pid: pid, name: name, node: :"#{name}@127.0.0.1", port: port}
    after
      5000 -> raise "silent listener #{name} did not start"
    end
  end

  @doc "How many connections it has accepted so far."
  def accepted(%__MODULE__{pid: pid}) do
    ref = make_ref()
    send(pid, {:accepted, self(), ref})

    receive do
      {^ref, n} -> n
    after
      5000 -> raise "silent listener does not answer"
    end
  end

  def stop(%__MODULE__{pid: pid}) do
    ref = Process.monitor(pid)
    send(pid, :stop)

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    after
      5000 -> Process.exit(pid, :kill)
    end
  end

  defp loop(listen, epmd_sock, conns) do
    conns =
      case :gen_tcp.accept(listen, 100) do
        {:ok, s} -> [s | conns]
        {:error, :timeout} -> conns
      end

    receive do
      :stop ->
        Enum.each(conns, &:gen_tcp.close/1)
        :gen_tcp.close(epmd_sock)
        :gen_tcp.close(listen)

      {:accepted, from, ref} ->
        send(from, {ref, length(conns)})
        loop(listen, epmd_sock, conns)
    after
      0 -> loop(listen, epmd_sock, conns)
    end
  end
end
