# The command line itself: --version, --help, unknown commands.
defmodule Clusterd.CliTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "--version names clusterd and its libraries", ctx do
    r = H.run_cli(ctx, ["--version"])
    assert r.status == 0, r.err
    assert r.out =~ ~r/^clusterd \d+\.\d+\.\d+/m, r.out
  end

  test "--help describes the commands", ctx do
    r = H.run_cli(ctx, ["--help"])
    assert r.status == 0, r.err

    for cmd <- ~w(run check status),
        do: assert(r.out =~ cmd, "--help does not mention #{cmd}:\n#{r.out}")
  end

  test "an unknown command or option is an error, not a crash", ctx do
    for args <- [["frobnicate"], ["run", "--no-such-option"], ["run"]] do
      r = H.run_cli(ctx, args)
      assert r.status == 2, "clusterd #{Enum.join(args, " ")}: exit #{r.status}\n#{r.err}"
      assert String.trim(r.err) != ""
    end
  end

  test "run --name overrides node.name (as the Kubernetes manifests do with the pod's IP)", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    config = H.write_config(ctx, hosts: members)

    h =
      H.start_clusterd(ctx, config,
        args: ["--name", "podname@127.0.0.1"],
        node: :"podname@127.0.0.1"
      )

    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)
    refute Enum.any?(members, &H.peer?(&1, :"clusterd@127.0.0.1", :hidden))
  end
end
