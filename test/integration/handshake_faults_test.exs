# Faults at the byte level of the distribution handshake: a peer that
# trickles one byte at a time (the connect deadline is a total, not per
# read), a peer that dies in the middle of the handshake (retried with
# backoff, the others unaffected, a real node killed there is meshed once it
# is back), and a flood of connections to clusterd's own port that never
# speak (at most four handshakes in flight; the rest closed at once).
defmodule Clusterd.FakePeer do
  @moduledoc """
  A TCP listener registered in EPMD under a node name that misbehaves in the
  handshake. Modes:
    {:trickle, interval_ms}  sends a valid status reply and then a message
                             that never ends, one byte every interval_ms
    :close_after_name        reads clusterd's name message, then closes
  Records, per connection, how many bytes it had sent when the other side
  closed.
  """
  defstruct [:pid, :node, :port]

  def start(epmd_port, name, mode) do
    parent = self()
    ref = make_ref()

    pid =
      spawn(fn ->
        {listen, port, epmd_sock} = Clusterd.Epmd.listen_registered(epmd_port, name)
        send(parent, {ref, port})
        me = self()
        spawn_link(fn -> accept_loop(listen, me, mode) end)
        loop(%{accepted: 0, closed: []}, listen, epmd_sock)
      end)

    receive do
      {^ref, port} -> %__MODULE__{pid: pid, node: :"#{name}@127.0.0.1", port: port}
    after
      5000 -> raise "fake peer #{name} did not start"
    end
  end

  @doc "%{accepted: n, closed: [bytes sent before the peer closed, ...]}"
  def report(%__MODULE__{pid: pid}) do
    ref = make_ref()
    send(pid, {:report, self(), ref})

    receive do
      {^ref, r} -> r
    after
      5000 -> raise "fake peer does not answer"
    end
  end

  def stop(%__MODULE__{pid: pid}) do
    send(pid, :stop)
    :ok
  end

  defp loop(st, listen, epmd_sock) do
    receive do
      :accepted ->
        loop(%{st | accepted: st.accepted + 1}, listen, epmd_sock)

      {:closed, bytes} ->
        loop(%{st | closed: [bytes | st.closed]}, listen, epmd_sock)

      {:report, from, ref} ->
        send(from, {ref, st})
        loop(st, listen, epmd_sock)

      :stop ->
        :gen_tcp.close(epmd_sock)
        :gen_tcp.close(listen)
        exit(:shutdown)
    end
  end

  defp accept_loop(listen, owner, mode) do
    case :gen_tcp.accept(listen) do
      {:ok, s} ->
        send(owner, :accepted)
        h = spawn(fn -> handle(s, owner, mode) end)
        :gen_tcp.controlling_process(s, h)
        send(h, :go)
        accept_loop(listen, owner, mode)

      {:error, _} ->
        :ok
    end
  end

  defp handle(s, owner, mode) do
    receive do
      :go -> :ok
    end

    case mode do
      :close_after_name ->
        _ = :gen_tcp.recv(s, 0, 5000)
        :gen_tcp.close(s)

      {:trickle, interval} ->
        # "sok", then a 200-byte message that never completes.
        bytes = :binary.bin_to_list(<<3::16, "sok", 200::16>>) ++ List.duplicate(?x, 200)
        trickle(s, owner, bytes, 0, interval)
    end
  end

  defp trickle(_s, owner, [], sent, _), do: send(owner, {:closed_never, sent})

  defp trickle(s, owner, [b | rest], sent, interval) do
    case :gen_tcp.send(s, <<b>>) do
      :ok ->
        case wait_closed(s, interval) do
          :closed -> send(owner, {:closed, sent + 1})
          :open -> trickle(s, owner, rest, sent + 1, interval)
        end

      {:error, _} ->
        send(owner, {:closed, sent})
    end
  end

  # Waits interval ms; :closed as soon as the other side closes.
  defp wait_closed(s, interval) do
    deadline = System.monotonic_time(:millisecond) + interval

    case :gen_tcp.recv(s, 0, interval) do
      {:ok, _} ->
        left = deadline - System.monotonic_time(:millisecond)
        if left > 0, do: wait_closed(s, left), else: :open

      {:error, :timeout} ->
        :open

      {:error, _} ->
        :closed
    end
  end
end

defmodule Clusterd.HandshakeFaultsTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Epmd, FakePeer}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "a peer that trickles one byte every 500 ms is dropped at the total connect deadline; the others mesh",
       ctx do
    trickle = FakePeer.start(ctx.epmd_port, "trickle", {:trickle, 500})
    on_exit(fn -> FakePeer.stop(trickle) end)
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    config = H.write_config(ctx, hosts: [trickle.node | members], connect_timeout: 2000)
    h = H.start_clusterd(ctx, config)

    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    {:ok, _} = H.wait_until(30_000, fn -> FakePeer.report(trickle).closed != [] end)

    # Every byte resets a per-read timer, so only a total deadline ends it:
    # 2 s is 4-5 bytes; 12 bytes (6 s) leaves room for a loaded machine, and
    # the message would take 205 bytes (100 s) to complete.
    %{closed: closed} = FakePeer.report(trickle)

    assert Enum.all?(closed, &(&1 <= 12)),
           "bytes sent before clusterd gave up: #{inspect(closed)}"

    H.wait_for_log(ctx, h, ~r/trickle@127\.0\.0\.1.*(time.?out|deadline)/i)
    assert H.running?(h)
  end

  test "a member killed mid-handshake: retried with backoff, the others unaffected, meshed once back",
       ctx do
    closer = FakePeer.start(ctx.epmd_port, "closer", :close_after_name)
    on_exit(fn -> FakePeer.stop(closer) end)
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4), connect_all: false)
    n4 = List.last(members)
    # n4 frozen: the kernel accepts clusterd's connection, the node never answers.
    n4_pid = H.os_pid_of(ctx, n4)
    Clusterd.Procs.signal(n4_pid, "STOP")

    config =
      H.write_config(ctx,
        hosts: [closer.node | members],
        connect_timeout: 10_000,
        reconcile_extra: ["  backoff_min: 200", "  backoff_max: 1000"]
      )

    h = H.start_clusterd(ctx, config)
    others = members -- [n4]
    H.wait_for_full_mesh(ctx, others)
    H.wait_for_hidden_peer(ctx, others, h.node)

    # n4 dies while clusterd waits for its handshake (10 s deadline).
    Clusterd.Procs.signal(n4_pid, "KILL")
    {:ok, _} = Clusterd.Procs.wait_exit(n4_pid, 10_000)
    H.wait_for_log(ctx, h, ~r/n4@127\.0\.0\.1/)

    # The peer that hangs up after our name is retried, with backoff: over
    # 6 s that is ~8 attempts with 200..1000 ms; without backoff, hundreds.
    a0 = FakePeer.report(closer).accepted
    Process.sleep(6_000)
    a1 = FakePeer.report(closer).accepted
    assert a1 - a0 >= 2, "not retried: #{a1 - a0} attempts in 6 s"
    assert a1 - a0 <= 20, "#{a1 - a0} attempts in 6 s: no backoff"
    assert H.full_mesh?(others)

    # n4 is back under the same name: meshed.
    H.start_erl(ctx, "n4", connect_all: false)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
  end

  test "a flood of silent connections to clusterd's port: at most 4 handshakes wait, the rest are closed, healing goes on",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    [n1, n2 | _] = members
    config = H.write_config(ctx, hosts: members, connect_timeout: 5000)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    {:ok, port, _} = Epmd.port_please(ctx.epmd_port, "clusterd")

    socks =
      for _ <- 1..40 do
        {:ok, s} = :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false], 2000)
        s
      end

    # Within a second: all but (at most) 4 closed by clusterd.
    open =
      Enum.count(socks, fn s ->
        match?({:error, :timeout}, :gen_tcp.recv(s, 0, 25))
      end)

    Process.sleep(1_000)
    still_open = Enum.count(socks, &match?({:error, :timeout}, :gen_tcp.recv(&1, 0, 10)))
    assert still_open <= 4, "#{still_open} of 40 silent connections held (#{open} at first)"

    # Meanwhile clusterd still heals.
    true = :erpc.call(n1, :erlang, :disconnect_node, [n2], 5000)
    H.wait_for_full_mesh(ctx, members)
    Enum.each(socks, &:gen_tcp.close/1)
    assert H.running?(h)
  end
end
