# A fresh creation per start: a message a member addresses to a pid of an
# earlier clusterd incarnation (same node name, other creation) reaches the
# new one over the same connection, as OTP delivers it; clusterd drops it.
defmodule Clusterd.IncarnationTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  # An external pid on `node` built from its parts (NEW_PID_EXT).
  defp pid_on(node, num, serial, creation) do
    name = Atom.to_string(node)

    :erlang.binary_to_term(
      <<131, 88, 119, byte_size(name), name::binary, num::32, serial::32, creation::32>>
    )
  end

  defp status!(ctx, h) do
    args = ["status", "--coordinator", "#{h.node}", "--cookie-file", ctx.cookie_file, "--json"]
    r = H.run_cli(ctx, args)
    assert r.status == 0, r.err
    JSON.decode!(r.out)
  end

  test "messages to an earlier incarnation's pids are dropped; the mesh is untouched", ctx do
    [n1, _n2] = members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members), args: ["-v"])
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    before = status!(ctx, h)
    creation = before["creation"]
    assert is_integer(creation) and creation >= 4
    dropped0 = before["stats"]["dropped_messages"]

    # From n1, over its existing connection to clusterd: a pid of another
    # creation (an earlier incarnation), then one of this incarnation that
    # no call is waiting on (a late reply).
    old = pid_on(h.node, 1, 0, if(creation == 4, do: 5, else: creation - 1))
    stray = pid_on(h.node, 999_999, 0, creation)
    _ = :erpc.call(n1, :erlang, :send, [old, {:rex, :from_the_past}])
    _ = :erpc.call(n1, :erlang, :send, [stray, {:rex, :late}])

    H.wait_for_log(ctx, h, ~r/dropped a message for an earlier incarnation.*node=n1@/)
    H.wait_for_log(ctx, h, ~r/dropped a reply with no waiting call.*node=n1@/)

    after_ = status!(ctx, h)
    assert after_["stats"]["dropped_messages"] >= dropped0 + 2
    assert after_["full_mesh"] == true
    assert H.full_mesh?(members)
    assert H.running?(h)
  end
end
