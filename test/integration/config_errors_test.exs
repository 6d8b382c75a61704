# Configuration errors: `check` and `run` both exit 2 and list every error as
# file:line:col; a good file prints "configuration OK".
defmodule Clusterd.ConfigErrorsTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  # {line, what} of every error planted below (1-based lines).
  @planted [
    {4, "connect_timeout: -5 (out of bounds)"},
    {5, "unknown key colour"},
    {7, "poll_interval: soon (not an integer)"},
    {13, "unknown Epmd option hostz"},
    {15, "unknown strategy"},
    {17, "unknown top-level key bogus"}
  ]

  defp bad_config(ctx) do
    """
    node:
      name: clusterd@127.0.0.1
      cookie_file: #{ctx.cookie_file}
      connect_timeout: -5
      colour: blue
    reconcile:
      poll_interval: soon
    topologies:
      good:
        strategy: Cluster.Strategy.Epmd
        config:
          hosts: ["n1@127.0.0.1", "n2@127.0.0.1"]
          hostz: ["n3@127.0.0.1"]
      bad:
        strategy: Cluster.Strategy.Nonesuch
        config: {}
    bogus: 1
    """
  end

  test "check and run list every error as file:line:col and exit 2", ctx do
    file = Path.join(ctx.dir, "bad.yaml")
    File.write!(file, bad_config(ctx))
    lines = String.split(bad_config(ctx), "\n")

    for cmd <- [["check", "-c", file], ["run", "-c", file]] do
      r = H.run_cli(ctx, cmd)
      what = "clusterd #{Enum.join(cmd, " ")}"
      assert r.status == 2, "#{what}: exit #{r.status}, stderr:\n#{r.err}"
      refute r.out =~ "configuration OK"

      reported =
        for l <- String.split(r.err, "\n"),
            [_, line, col, msg] <- [Regex.run(~r/^#{Regex.escape(file)}:(\d+):(\d+): (.+)$/, l)],
            do: {String.to_integer(line), String.to_integer(col), msg}

      for {line, desc} <- @planted do
        assert Enum.any?(reported, fn {l, _, _} -> l == line end),
               "#{what}: no error reported on line #{line} (#{desc}); stderr:\n#{r.err}"
      end

      for {line, col, msg} <- reported do
        assert line >= 1 and line <= length(lines)

        assert col >= 1 and col <= String.length(Enum.at(lines, line - 1)) + 1,
               "column #{col} on line #{line}"

        assert String.trim(msg) != ""
      end
    end
  end

  test "a YAML syntax error is reported with its position", ctx do
    file = Path.join(ctx.dir, "syntax.yaml")
    File.write!(file, "node:\n  name: clusterd@127.0.0.1\ntopologies: [unclosed\n  x: {\n")
    r = H.run_cli(ctx, ["check", "-c", file])
    assert r.status == 2
    assert r.err =~ ~r/^#{Regex.escape(file)}:\d+:\d+: .+/m, r.err
  end

  test "a missing file is an error that names it", ctx do
    file = Path.join(ctx.dir, "does-not-exist.yaml")
    r = H.run_cli(ctx, ["check", "-c", file])
    assert r.status == 2
    assert String.contains?(r.err, file), r.err
  end

  test "a good config, with every local strategy and alias, prints configuration OK", ctx do
    hosts_file = Path.join(ctx.dir, "hosts.erlang")
    File.write!(hosts_file, "'127.0.0.1'.\n")

    config =
      H.write_config(ctx,
        poll_interval: 600_000,
        topologies: [
          {"a", "Cluster.Strategy.Epmd", [hosts: ["n1@127.0.0.1", "n2@127.0.0.1"]]},
          {"b", "epmd", [hosts: ["n3@127.0.0.1"]]},
          {"c", "Cluster.Strategy.LocalEpmd", [polling_interval: 1000]},
          {"d", "local_epmd", [polling_interval: 5000]},
          {"e", "Cluster.Strategy.ErlangHosts", [hosts_file: hosts_file, polling_interval: 1000]},
          {"f", "erlang_hosts", [hosts_file: hosts_file]}
        ]
      )

    r = H.run_cli(ctx, ["check", "-c", config])
    assert r.status == 0, "exit #{r.status}:\n#{r.err}\n" <> File.read!(config)
    assert r.out =~ "configuration OK"
  end
end
