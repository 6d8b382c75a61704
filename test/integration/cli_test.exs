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

    for cmd <- ~w(run check status discover mesh ping names connect disconnect form),
        do: assert(r.out =~ cmd, "--help does not mention #{cmd}:\n#{r.out}")
  end

  test "an unknown command or option is an error, not a crash", ctx do
    for args <- [["frobnicate"], ["run", "--no-such-option"], ["run"]] do
      r = H.run_cli(ctx, args)
      assert r.status == 2, "clusterd #{Enum.join(args, " ")}: exit #{r.status}\n#{r.err}"
      assert String.trim(r.err) != ""
    end
  end

  test "help COMMAND for every command; an unknown one is exit 2", ctx do
    for cmd <- ~w(run check status discover mesh ping names connect disconnect form) do
      r = H.run_cli(ctx, ["help", cmd])
      assert r.status == 0, "help #{cmd}: #{r.err}"
      assert r.out =~ ~r/^usage: clusterd #{cmd}/, r.out
      assert r.out =~ "--no-color"
    end

    assert H.run_cli(ctx, ["help", "frobnicate"]).status == 2
  end

  test "colours only on a terminal, and not with NO_COLOR or --no-color", ctx do
    # `script` gives the command a pseudo-terminal as stdout.
    tty = fn cmd, env ->
      {out, 0} =
        System.cmd("script", ["-qec", cmd, "/dev/null"],
          env: (for {k, v} <- H.env(ctx, env), do: {k, v || nil})
        )

      out
    end

    bin = H.bin()
    assert tty.("#{bin} names", []) =~ "\e["
    refute tty.("#{bin} names --no-color", []) =~ "\e["
    refute tty.("#{bin} names", [{"NO_COLOR", "1"}]) =~ "\e["
    refute H.run_cli(ctx, ["names"]).out =~ "\e["
  end

  test "the bash completion script offers the commands", ctx do
    script = Path.join(H.root(), "scripts/clusterd.bash")

    {out, 0} =
      System.cmd("bash", [
        "-c",
        "source #{script}; COMP_WORDS=(clusterd me); COMP_CWORD=1; _clusterd; echo ${COMPREPLY[*]};" <>
          "COMP_WORDS=(clusterd mesh --n); COMP_CWORD=2; _clusterd; echo ${COMPREPLY[*]}"
      ])

    assert out == "mesh\n--nodes --name --no-color\n", inspect(out)
    _ = ctx
  end
end
