# The cookie: a member with another cookie is reported and left out, the rest
# mesh; the cookie never shows in clusterd's argv, environment or log; a cookie
# file readable by group or others is refused.
defmodule Clusterd.CookieTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  test "a member with another cookie is logged (warn/error, reason: cookie); the others mesh; the cookie never leaks",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4), connect_all: false)
    bad = H.start_erl(ctx, "nbad", cookie: H.random_cookie(), connect_all: false)

    # -v: the most verbose log is the one that must not leak.
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members ++ [bad]), args: ["-v"])
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    # One line at warn or error level naming the node, with the cookie as the reason.
    H.wait_for_log(
      ctx,
      h,
      ~r/level=(error|warn)\b.*nbad@127\.0\.0\.1.*cookie|level=(error|warn)\b.*cookie.*nbad@127\.0\.0\.1/
    )

    for m <- members,
        do: assert(H.not_peer?(m, bad), "#{m} is connected to the wrong-cookie node")

    assert H.nodes_of(bad) == {:ok, []}

    cmdline = File.read!("/proc/#{h.os_pid}/cmdline")
    environ = File.read!("/proc/#{h.os_pid}/environ")
    assert cmdline =~ "clusterd", "not clusterd's /proc entry: #{inspect(cmdline)}"
    refute String.contains?(cmdline, ctx.cookie), "cookie in clusterd's command line"
    refute String.contains?(environ, ctx.cookie), "cookie in clusterd's environment"

    assert {:ok, 0} = H.stop_clusterd(h)
    log = H.clusterd_log(h)
    refute String.contains?(log, ctx.cookie), "cookie in clusterd's log"
  end

  for mode <- [0o644, 0o640, 0o604] do
    @mode mode
    test "a cookie file with mode #{Integer.to_string(mode, 8)} is refused (exit 2, the message names the file)",
         ctx do
      file = H.write_cookie_file(ctx, "loose-cookie", ctx.cookie, @mode)
      assert File.stat!(file).mode |> Bitwise.band(0o777) == @mode
      config = H.write_config(ctx, hosts: [:"n1@127.0.0.1"], cookie_file: file)
      h = H.start_clusterd(ctx, config)

      assert {:ok, 2} = H.wait_exit(h, 15_000),
             "clusterd did not exit 2:\n" <> H.clusterd_logs_tail(ctx)

      log = H.clusterd_log(h)
      assert String.contains?(log, file), "the refusal does not name #{file}:\n#{log}"
      refute String.contains?(log, ctx.cookie), "cookie in clusterd's log"
    end
  end
end
