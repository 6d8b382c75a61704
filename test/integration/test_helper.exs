# Entry point of the integration suite; run it through test/run-integration.sh,
# which starts this observer as
#   elixir --hidden --erl "-epmd_module Elixir.Clusterd.ObserverEpmd ..." test_helper.exs [PATTERN...]
# PATTERNs select test files by substring (e.g. "heal" runs heal_test.exs).

support = Path.expand("../support", __DIR__)

for file <- ~w(epmd procs json silent_listener harness pods bind9 tls http kube_fixture) do
  Code.require_file("#{file}.exs", support)
end

Clusterd.Harness.start_observer!()

ExUnit.start(
  autorun: false,
  max_cases: 1,
  timeout: 300_000,
  trace: System.get_env("TRACE") == "1"
)

patterns = System.argv()

files =
  Path.wildcard(Path.join(__DIR__, "*_test.exs"))
  |> Enum.filter(fn f ->
    patterns == [] or Enum.any?(patterns, &String.contains?(Path.basename(f), &1))
  end)
  |> Enum.sort()

if files == [] do
  IO.puts(:stderr, "no test files match #{inspect(patterns)}")
  System.halt(2)
end

IO.puts("clusterd under test: #{Clusterd.Harness.bin()}")
Enum.each(files, &Code.require_file/1)

%{failures: failures} = ExUnit.run()
System.halt(if failures == 0, do: 0, else: 1)
