# A member that accepts TCP but never answers the handshake costs only its own
# connect timeout: the real members still mesh, and the log says why.
defmodule Clusterd.SilentMemberTest do
  use ExUnit.Case, async: false
  alias Clusterd.SilentListener
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "five real nodes mesh while a sixth name in EPMD never answers; the log names it with a timeout",
       ctx do
    silent = SilentListener.start(ctx.epmd_port, "silent")
    on_exit(fn -> SilentListener.stop(silent) end)

    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4 n5), connect_all: false)
    # The silent name first, so that a serial connect would meet it first.
    config = H.write_config(ctx, hosts: [silent.node | members], connect_timeout: 2000)
    h = H.start_clusterd(ctx, config)

    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    # One line naming the silent node with a timeout reason.
    H.wait_for_log(
      ctx,
      h,
      ~r/silent@127\.0\.0\.1.*(time.?out|deadline)|(time.?out|deadline).*silent@127\.0\.0\.1/i
    )

    assert SilentListener.accepted(silent) >= 1, "clusterd never even tried the silent node"
    assert Enum.all?(members, &H.not_peer?(&1, silent.node))
    assert H.running?(h), "clusterd exited:\n" <> H.clusterd_logs_tail(ctx)
  end
end
