# clusterd as a rebar3 dependency of a Mix project (README, "Two ways to run
# it"): a throwaway project depends on this repository
# with manager: :rebar3 (by path, and by git at the committed HEAD, which
# builds from a clean checkout), compiles it offline with the system rebar3,
# and runs the binary it finds through Application.app_dir/2.
defmodule Clusterd.MixDependencyTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  @mix_exs ~S"""
  defmodule Consumer.MixProject do
    use Mix.Project

    def project,
      do: [app: :consumer, version: "0.1.0", elixir: "~> 1.14", deps: [clusterd_dep()]]

    def application, do: [extra_applications: [:logger]]

    defp clusterd_dep do
      case System.fetch_env!("CLUSTERD_DEP") do
        "path" -> {:clusterd, path: System.fetch_env!("CLUSTERD_SRC"), manager: :rebar3}
        "git" -> {:clusterd, git: System.fetch_env!("CLUSTERD_SRC"),
                  ref: System.fetch_env!("CLUSTERD_REF"), manager: :rebar3}
      end
    end
  end
  """

  @consumer_ex ~S"""
  defmodule Consumer do
    @doc "Where the dependency put the binary (what an app's release ships)."
    def clusterd_bin, do: Application.app_dir(:clusterd, "priv/clusterd")
  end
  """

  @script ~S"""
  bin = Consumer.clusterd_bin()
  {out, status} = System.cmd(bin, ["--version"])
  IO.puts("BIN=" <> bin)
  IO.puts("STATUS=#{status}")
  IO.write(out)
  """

  defp consumer(ctx, kind, extra_env) do
    dir = Path.join(ctx.dir, "consumer-#{kind}")
    File.mkdir_p!(Path.join(dir, "lib"))
    File.write!(Path.join(dir, "mix.exs"), @mix_exs)
    File.write!(Path.join(dir, "lib/consumer.ex"), @consumer_ex)
    File.write!(Path.join(dir, "version.exs"), @script)

    env =
      [
        {"CLUSTERD_DEP", kind},
        {"CLUSTERD_SRC", H.root()},
        {"MIX_REBAR3", System.find_executable("rebar3") || "/usr/bin/rebar3"},
        {"MIX_ENV", "prod"},
        {"MIX_HOME", Path.join(ctx.dir, "mix-home")},
        {"HEX_OFFLINE", "1"},
        {"CLUSTERD_TEST_RUN", H.run_id()}
      ] ++ extra_env

    {out, status} =
      System.cmd(
        "timeout",
        ["-k", "5", "600", "mix", "do", "deps.get,", "run", "version.exs"],
        cd: dir,
        env: env,
        stderr_to_stdout: true
      )

    File.write!(Path.join(ctx.dir, "mix-#{kind}.log"), out)
    assert status == 0, "mix in the consumer project failed (#{status}):\n#{out}"
    [_, bin] = Regex.run(~r/^BIN=(.*)$/m, out)
    assert out =~ ~r/^STATUS=0$/m, out
    assert out =~ ~r/^clusterd \d+\.\d+\.\d+$/m, out
    {dir, bin}
  end

  test "a path dependency with manager: :rebar3: priv/clusterd through Application.app_dir",
       ctx do
    {dir, bin} = consumer(ctx, "path", [])
    assert bin == Path.join(dir, "_build/prod/lib/clusterd/priv/clusterd")
    assert File.exists?(bin)
  end

  test "a git dependency at the committed HEAD builds from a clean checkout", ctx do
    {ref, 0} = System.cmd("git", ["-C", H.root(), "rev-parse", "HEAD"])
    {dir, bin} = consumer(ctx, "git", [{"CLUSTERD_REF", String.trim(ref)}])
    assert bin == Path.join(dir, "_build/prod/lib/clusterd/priv/clusterd")
    assert File.exists?(Path.join(dir, "deps/clusterd/priv/clusterd"))
  end
end
