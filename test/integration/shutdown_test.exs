# Stopping clusterd: SIGTERM/SIGINT give exit 0, the members' mesh stays as it
# is, and nothing clusterd started on the members survives it.
defmodule Clusterd.ShutdownTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "SIGTERM: exit 0, the mesh stays intact, no forwarder process left on any member", ctx do
    erl = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4))
    members = erl ++ [H.start_elixir(ctx, "e1")]
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    # While clusterd runs, each member carries its forwarder; without this the
    # "none left" check below would prove nothing.
    fw = fn -> for m <- members, into: %{}, do: {m, H.forwarders(m, h.node)} end

    running =
      case H.wait_until(15_000, fn -> (f = fw.()) |> Enum.all?(fn {_, l} -> l != [] end) && f end) do
        {:ok, f} ->
          f

        :timeout ->
          flunk(
            "no forwarder process found on some member while clusterd runs: #{inspect(fw.())}"
          )
      end

    H.install_link_monitors(members)
    ids = H.connection_ids(members)

    assert {:ok, 0} = H.stop_clusterd(h, "TERM"),
           "clusterd did not exit 0 on SIGTERM:\n" <> H.clusterd_logs_tail(ctx)

    assert {:ok, _} =
             H.wait_until(10_000, fn -> Enum.all?(members, &H.not_peer?(&1, h.node, :hidden)) end)

    case H.wait_until(10_000, fn -> Enum.all?(fw.(), fn {_, l} -> l == [] end) end) do
      {:ok, _} -> :ok
      :timeout -> flunk("processes left on members after clusterd stopped: #{inspect(fw.())}")
    end

    left =
      for {m, l} <- running,
          {p, _} <- l,
          :erpc.call(m, :erlang, :is_process_alive, [p]),
          do: {m, p}

    assert left == [], "forwarders still alive: #{inspect(left)}"

    # The mesh is untouched, now and a little later.
    for _ <- 1..2 do
      assert H.full_mesh?(members), H.mesh_report(members)

      assert Enum.all?(H.link_events(members), fn {_, e} -> e == [] end),
             inspect(H.link_events(members))

      assert H.connection_ids(members) == ids
      Process.sleep(2_000)
    end
  end

  test "SIGINT: exit 0 and the mesh stays", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members))
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    ids = H.connection_ids(members)

    assert {:ok, 0} = H.stop_clusterd(h, "INT"),
           "clusterd did not exit 0 on SIGINT:\n" <> H.clusterd_logs_tail(ctx)

    Process.sleep(1_000)
    assert H.full_mesh?(members), H.mesh_report(members)
    assert H.connection_ids(members) == ids
  end
end
