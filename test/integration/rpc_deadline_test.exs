# Every RPC has a deadline: a member whose `rex` server does not answer costs
# a timeout, never the other members' mesh, and is picked up again once it
# answers (the safety-net poll restarts its event forwarder).
defmodule Clusterd.RpcDeadlineTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "a member whose rex is suspended times out; the others mesh; it joins once rex answers",
       ctx do
    [n1 | others] = members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4), connect_all: false)
    # erpc does not go through rex, so the observer can still drive n1.
    :ok = :erpc.call(n1, :sys, :suspend, [:rex])

    config = H.write_config(ctx, hosts: members, rpc_timeout: 1000, poll_interval: 1000)
    h = H.start_clusterd(ctx, config)

    H.wait_for_full_mesh(ctx, others)
    H.wait_for_log(ctx, h, ~r/node=n1@127\.0\.0\.1 reason="timeout after 1000 ms"/)
    assert H.nodes_of(n1) == {:ok, []}, "n1 was linked although clusterd cannot observe it"

    :ok = :erpc.call(n1, :sys, :resume, [:rex])
    H.wait_for_full_mesh(ctx, members)
    assert H.running?(h)
  end
end
