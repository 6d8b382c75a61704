# SIGHUP reloads the config: members added or removed take effect; a bad new
# config is rejected and the old one kept (INTERFACE.md, `clusterd run`).
defmodule Clusterd.ConfigReloadTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "SIGHUP: a member added to the config is meshed, a removed one is disconnected (prune)",
       ctx do
    [n1, n2, n3] = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    config = H.write_config(ctx, hosts: [n1, n2])
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, [n1, n2])
    assert H.nodes_of(n3) == {:ok, []}

    H.write_config(ctx, hosts: [n1, n2, n3])
    H.signal(h, "HUP")
    H.wait_for_full_mesh(ctx, [n1, n2, n3])

    H.write_config(ctx, hosts: [n1, n3])
    H.signal(h, "HUP")
    H.wait_for_full_mesh(ctx, [n1, n3])

    assert {:ok, _} = H.wait_until(20_000, fn -> H.not_peer?(n1, n2) and H.not_peer?(n3, n2) end),
           "n2 was removed from the config but is still linked:\n" <>
             H.mesh_report([n1, n2, n3]) <> "\n" <> H.clusterd_logs_tail(ctx)

    assert H.running?(h)
  end

  test "SIGHUP with a broken config: rejected with file:line:col, the old config keeps working",
       ctx do
    [n1, n2, n3] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3), connect_all: false)
    config = H.write_config(ctx, hosts: members)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)

    File.write!(config, File.read!(config) <> "bogus_key: 1\n")
    H.signal(h, "HUP")
    H.wait_for_log(ctx, h, ~r/#{Regex.escape(config)}:\d+:\d+/)
    Process.sleep(500)
    assert H.running?(h), "clusterd exited on a bad reload:\n" <> H.clusterd_logs_tail(ctx)

    # Still the old config at work: a cut is healed.
    assert :erpc.call(n1, :erlang, :disconnect_node, [n2]) == true
    H.wait_for_full_mesh(ctx, [n1, n2, n3])
  end
end
