# Logs: one line per event on stderr, logfmt by default, JSON lines with
# --log-format json, quiet by default and debug lines only with -v.
defmodule Clusterd.LogFormatTest do
  use ExUnit.Case, async: false
  alias Clusterd.JSON
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  @logfmt ~r/^time=\S+ level=(debug|info|warn|error) msg=("(?:[^"\\]|\\.)*"|\S+)( [A-Za-z0-9_.-]+=("(?:[^"\\]|\\.)*"|\S*))*$/

  test "default: logfmt lines, no debug; -v adds debug lines", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    config = H.write_config(ctx, hosts: members)

    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    assert {:ok, 0} = H.stop_clusterd(h)
    lines = log_lines(h)
    assert lines != []
    for l <- lines, do: assert(l =~ @logfmt, "not a logfmt line: #{inspect(l)}")
    refute Enum.any?(lines, &(&1 =~ ~r/ level=debug /)), "debug lines without -v"
    assert Enum.any?(lines, &(&1 =~ ~r/n1@127\.0\.0\.1/)), "no line names a member"

    hv = H.start_clusterd(ctx, config, label: "clusterd-v", args: ["-v"])
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, hv.node)
    Process.sleep(1_000)
    assert {:ok, 0} = H.stop_clusterd(hv)
    vlines = log_lines(hv)
    for l <- vlines, do: assert(l =~ @logfmt, "not a logfmt line: #{inspect(l)}")
    assert Enum.any?(vlines, &(&1 =~ ~r/ level=debug /)), "-v gave no debug lines"
  end

  test "--log-format json: every line is a JSON object with time, level and msg", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    h = H.start_clusterd(ctx, H.write_config(ctx, hosts: members), args: ["--log-format", "json"])
    H.wait_for_full_mesh(ctx, members)
    assert {:ok, 0} = H.stop_clusterd(h)

    lines = log_lines(h)
    assert lines != []

    for l <- lines do
      assert {:ok, %{"time" => t, "level" => level, "msg" => msg}} = JSON.decode(l),
             "not a JSON log line: #{inspect(l)}"

      assert is_binary(t) and is_binary(msg) and msg != ""
      assert level in ~w(debug info warn error)
    end

    assert Enum.any?(lines, &String.contains?(&1, "n1@127.0.0.1"))
  end

  defp log_lines(h),
    do:
      H.clusterd_log(h)
      |> String.split("\n", trim: true)
      |> Enum.reject(&(&1 == "=== restarted ==="))
end
