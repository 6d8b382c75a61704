# The harness itself, without clusterd: epmd, real nodes, the observer's view,
# link monitors, the silent listener and the JSON decoder. If this file fails,
# no other result of the suite means anything.
defmodule Clusterd.HarnessSanityTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON, SilentListener}

  setup context, do: {:ok, Harness.setup_test(context)}

  test "nodes start unconnected, register in our epmd, and the observer can link and unlink them",
       ctx do
    [n1, n2, n3] = nodes = Harness.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)

    assert Enum.sort(Harness.epmd_names(ctx)) == ~w(n1 n2 n3)
    for n <- nodes, do: assert(Harness.nodes_of(n) == {:ok, []})
    # the observer is hidden and registered nowhere
    assert {:ok, [:"observer@127.0.0.1"]} = Harness.nodes_of(n1, :hidden)

    Harness.install_link_monitors(nodes)
    assert :erpc.call(n1, :net_kernel, :connect_node, [n2]) == true
    assert {:ok, _} = Harness.wait_until(5000, fn -> Harness.missing_links([n1, n2]) == [] end)
    refute Harness.full_mesh?(nodes)
    assert {n1, n3} in Harness.missing_links(nodes)

    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
    assert {:ok, _} = Harness.wait_until(5000, fn -> Harness.nodes_of(n2) == {:ok, []} end)

    assert {:ok, _} =
             Harness.wait_until(5000, fn ->
               match?(%{^n1 => [{^n2, _}], ^n2 => [{^n1, _}]}, Harness.link_events([n1, n2]))
             end)

    assert :erpc.call(n1, :net_kernel, :connect_node, [n3]) == true
    ids = Harness.connection_ids(nodes)
    assert Map.has_key?(ids, {n1, n3}) and Map.has_key?(ids, {n3, n1})

    Harness.kill_node(ctx, n3)
    assert Harness.nodes_of(n3) |> elem(0) == :error
    n3b = Harness.start_erl(ctx, "n3", connect_all: false)
    assert n3b == n3
    assert Harness.nodes_of(n3) == {:ok, []}
  end

  test "an Elixir member and a member with another cookie are reachable by the observer", ctx do
    e1 = Harness.start_elixir(ctx, "e1")
    assert :erpc.call(e1, Node, :self, []) == e1
    other = Harness.start_erl(ctx, "nbad", cookie: Harness.random_cookie())
    n1 = Harness.start_erl(ctx, "n1")
    assert :erpc.call(n1, :net_kernel, :connect_node, [other]) == false
    assert :erpc.call(n1, :net_kernel, :connect_node, [e1]) == true
  end

  test "the silent listener is in epmd, accepts and never answers", ctx do
    s = SilentListener.start(ctx.epmd_port, "silent")
    assert "silent" in Harness.epmd_names(ctx)
    {:ok, sock} = :gen_tcp.connect({127, 0, 0, 1}, s.port, [:binary, active: false])
    :ok = :gen_tcp.send(sock, <<0, 5, ?N, 0, 0, 0, 0>>)
    assert :gen_tcp.recv(sock, 0, 500) == {:error, :timeout}
    assert {:ok, 1} = Harness.wait_until(2000, fn -> SilentListener.accepted(s) == 1 && 1 end)
    :gen_tcp.close(sock)
    SilentListener.stop(s)
    refute "silent" in Harness.epmd_names(ctx)
  end

  test "the JSON decoder" do
    text =
      ~S({"a": [1, -2.5e1, true, false, null], "b": {"c": "x\"\u00e9\ud83d\ude00\n"}, "d": []})

    assert JSON.decode!(text) == %{
             "a" => [1, -25.0, true, false, nil],
             "b" => %{"c" => "x\"é😀\n"},
             "d" => []
           }

    assert {:error, _} = JSON.decode("{\"a\": }")
    assert {:error, _} = JSON.decode("[1,]")
    assert {:error, _} = JSON.decode("{} x")
  end
end
