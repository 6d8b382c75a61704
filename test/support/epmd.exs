# EPMD client for the test observer, plus the observer's EPMD module.
#
# The observer never registers in any EPMD (it runs with dist_listen false),
# so LocalEpmd/ErlangHosts tests see only the nodes the test started. Each test
# has its own epmd on a private port; Clusterd.ObserverEpmd looks members up in
# whichever epmd the running test set with Clusterd.ObserverEpmd.use_port/1.

defmodule Clusterd.Epmd do
  @moduledoc "Just enough of the EPMD protocol: NAMES, PORT_PLEASE2, ALIVE2."

  @names_req 110
  @port2_req 122
  @port2_resp 119
  @alive2_req 120
  @alive2_resp 121
  @alive2_x_resp 118

  @doc "Names registered in the epmd on `port`: [{name, dist_port}]."
  def names(port, timeout \\ 2000, addr \\ {127, 0, 0, 1}) do
    with {:ok, s} <- connect(addr, port, timeout) do
      :ok = :gen_tcp.send(s, <<1::16, @names_req>>)
      result = recv_all(s, timeout, <<>>)
      :gen_tcp.close(s)

      case result do
        {:ok, <<_epmd_port::32, text::binary>>} ->
          names =
            for line <- String.split(text, "\n", trim: true),
                [_, name, p] <- [Regex.run(~r/^name (\S+) at port (\d+)$/, line)],
                do: {name, String.to_integer(p)}

          {:ok, names}

        {:ok, other} ->
          {:error, {:bad_names_reply, other}}

        error ->
          error
      end
    end
  end

  @doc "The distribution port of `name` in the epmd on `port`."
  def port_please(port, name, timeout \\ 2000, addr \\ {127, 0, 0, 1}) do
    name = to_string(name)

    with {:ok, s} <- connect(addr, port, timeout) do
      :ok = :gen_tcp.send(s, <<byte_size(name) + 1::16, @port2_req, name::binary>>)
      reply = recv_all(s, timeout, <<>>)
      :gen_tcp.close(s)

      case reply do
        {:ok, <<@port2_resp, 0, dist_port::16, _type, _proto, high::16, _low::16, _::binary>>} ->
          {:ok, dist_port, high}

        {:ok, _} ->
          :noport

        error ->
          error
      end
    end
  end

  @doc """
  Registers `name` with distribution port `dist_port` (ALIVE2). The
  registration lasts as long as the returned socket stays open.
  """
  def register(port, name, dist_port, timeout \\ 2000) do
    name = to_string(name)

    body =
      <<@alive2_req, dist_port::16, 77, 0, 6::16, 5::16, byte_size(name)::16, name::binary,
        0::16>>

    with {:ok, s} <- connect({127, 0, 0, 1}, port, timeout),
         :ok <- :gen_tcp.send(s, <<byte_size(body)::16, body::binary>>) do
      case :gen_tcp.recv(s, 0, timeout) do
        {:ok, <<@alive2_x_resp, 0, _creation::32>>} -> {:ok, s}
        {:ok, <<@alive2_resp, 0, _creation::16>>} -> {:ok, s}
        other -> {:error, {:alive2, other}}
      end
    end
  end

  @doc """
  A listening socket on loopback registered in EPMD as `name`: the common
  start of every fake member. Returns {listen, port, epmd_sock}; the
  registration lasts while epmd_sock stays open.
  """
  def listen_registered(epmd_port, name) do
    {:ok, listen} = :gen_tcp.listen(0, [:binary, ip: {127, 0, 0, 1}, active: false, backlog: 128])
    {:ok, port} = :inet.port(listen)
    {:ok, epmd_sock} = register(epmd_port, name, port)
    {listen, port, epmd_sock}
  end

  defp connect(addr, port, timeout) do
    :gen_tcp.connect(addr, port, [:binary, active: false, packet: :raw], timeout)
  end

  # EPMD answers and then closes the socket.
  defp recv_all(s, timeout, acc) do
    case :gen_tcp.recv(s, 0, timeout) do
      {:ok, data} -> recv_all(s, timeout, acc <> data)
      {:error, :closed} -> {:ok, acc}
      {:error, reason} -> {:error, reason}
    end
  end
end

defmodule Clusterd.ObserverEpmd do
  @moduledoc """
  The observer's `-epmd_module`: resolves node names through the epmd of the
  test that is running (tests run one at a time). Never registers the
  observer anywhere.

  Nodes on loopback are looked up in the test's epmd (use_port/1). Nodes on
  any other address are pod-like hosts (Clusterd.Pods): each has its own
  epmd on 4369 at that address. Host names that the observer's resolver does
  not know (a StatefulSet pod's DNS name, say) are mapped with add_host/2.
  """

  @pod_epmd_port 4369

  def use_port(port), do: :persistent_term.put(__MODULE__, port)
  def current_port, do: :persistent_term.get(__MODULE__, nil)

  @doc "Maps host name `host` to address tuple `addr` for the observer."
  def add_host(host, addr) do
    hosts = :persistent_term.get({__MODULE__, :hosts}, %{})
    :persistent_term.put({__MODULE__, :hosts}, Map.put(hosts, to_string(host), addr))
  end

  def remove_host(host) do
    hosts = :persistent_term.get({__MODULE__, :hosts}, %{})
    :persistent_term.put({__MODULE__, :hosts}, Map.delete(hosts, to_string(host)))
  end

  def start_link, do: :ignore

  def register_node(_name, _port), do: {:ok, 1}
  def register_node(_name, _port, _family), do: {:ok, 1}

  @doc false
  # Called by inet_tcp_dist / inet6_tcp_dist before connecting: the address
  # and, since we return them too, the port (so port_please is not used).
  # The observer runs both inet_tcp and inet6_tcp distribution; an IPv4 host
  # asked for by inet6_tcp is answered with its IPv4-mapped IPv6 address.
  def address_please(name, host, family) do
    with {:ok, addr} <- resolve(host, family),
         {:port, port, version} <- lookup(name, addr, 5000) do
      {:ok, for_family(addr, family), port, version}
    else
      _ -> {:error, :nxdomain}
    end
  end

  defp for_family({a, b, c, d}, :inet6), do: {0, 0, 0, 0, 0, 0xFFFF, a * 256 + b, c * 256 + d}
  defp for_family(addr, _family), do: addr

  def port_please(name, host), do: port_please(name, host, 5000)

  def port_please(name, host, timeout) do
    case resolve(host, :inet) do
      {:ok, addr} -> lookup(name, addr, timeout)
      _ -> :noport
    end
  end

  defp lookup(name, addr, timeout) do
    where =
      case addr do
        {127, _, _, _} -> {current_port(), {127, 0, 0, 1}}
        {0, 0, 0, 0, 0, 0, 0, 1} -> {current_port(), {127, 0, 0, 1}}
        _ -> {@pod_epmd_port, addr}
      end

    case where do
      {nil, _} ->
        :noport

      {port, at} ->
        case Clusterd.Epmd.port_please(port, name, min(timeout, 5000), at) do
          {:ok, dist_port, version} -> {:port, dist_port, version}
          _ -> :noport
        end
    end
  end

  defp resolve(host, family) do
    text = to_string(host)
    hosts = :persistent_term.get({__MODULE__, :hosts}, %{})

    case Map.fetch(hosts, text) do
      {:ok, addr} ->
        {:ok, addr}

      :error ->
        case :inet.parse_address(String.to_charlist(text)) do
          {:ok, addr} -> {:ok, addr}
          _ -> :inet.getaddr(String.to_charlist(text), family)
        end
    end
  end

  def names(_host) do
    case current_port() do
      nil ->
        {:error, :address}

      port ->
        case Clusterd.Epmd.names(port) do
          {:ok, names} -> {:ok, for({n, p} <- names, do: {String.to_charlist(n), p})}
          _ -> {:error, :address}
        end
    end
  end
end
