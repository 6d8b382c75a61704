# Kubernetes discovery benchmarks (make bench → bench/kube_bench.sh): run by
# a hidden observer with the integration harness (test/support), as ExUnit
# cases so that every process, namespace and fixture is cleaned up by pid.
#
#  1. API load: 100 pods behind one service; clusterd lists once and watches
#     (timeouts and churn compressed 10x: 60 s of real time stand for 10
#     minutes). Every request and byte the API fixture served is counted, and
#     set against libcluster's model: every node lists every 5 s, 100 × 120
#     lists of the same 100 pods, whose size is measured on the fixture.
#  2. Watch event → member meshed: pod-like BEAM nodes in network
#     namespaces; the clock starts just before the fixture is told a pod is
#     ready (or not ready) and stops when the observer sees the new member in
#     every other member's nodes() (or gone from them).
# Writes $BENCH_OUT (markdown) and prints it.

support = Path.expand("../test/support", __DIR__)

for file <- ~w(epmd procs json silent_listener harness pods kube_fixture) do
  Code.require_file("#{file}.exs", support)
end

Clusterd.Harness.start_observer!()
ExUnit.start(autorun: false, max_cases: 1, timeout: 900_000)

Code.require_file("kube_bench_cases.exs", __DIR__)

%{failures: failures} = ExUnit.run()
load = Clusterd.KubeBench.fetch(:load)
lat = Clusterd.KubeBench.fetch(:latency)
fmt = fn x -> :erlang.float_to_binary(x / 1, decimals: 1) end

load_md =
  if load do
    scale = 600 / load.seconds
    # 10 minutes at the same pace: the start-up list once, watches and
    # events times the compression
    ours = load.lists + round(load.watches * scale)
    ours_bytes = load.list_bytes_ours + round(load.watch_bytes * scale)
    lib_reqs = 100 * 120
    lib_bytes = lib_reqs * load.list_bytes

    """
    ### API load: 100 pods, 10 minutes

    clusterd with the default lookup (EndpointSlices): #{load.lists} list + #{load.watches} watch
    request(s) in #{load.seconds} s of real time, watch timeout 45 s and one pod change every
    2 s (#{load.churn} changes, #{load.events} watch events). That run stands for 10 minutes with
    client-go's 300-600 s watch timeouts (×#{fmt.(scale)}).

    | | requests in 10 min | bytes served | per pod change |
    |---|---|---|---|
    | clusterd (list + watch, one coordinator) | ≈ #{ours} | ≈ #{ours_bytes} | one watch event (≈ #{if load.events > 0, do: div(load.watch_bytes, load.events), else: 0} bytes) |
    | libcluster `Kubernetes` (every node lists every 5 s) | 100 × 120 = #{lib_reqs} | #{lib_reqs} × #{load.list_bytes} = #{lib_bytes} | seen at the next poll (≤ 5 s) |
    | libcluster with `kubernetes_use_cached_resources` | #{lib_reqs} (from the watch cache) | #{lib_bytes} | ≤ 5 s |

    One libcluster poll is `GET …/endpoints?labelSelector=app%3Dmyapp` of the same 100 pods on the
    same fixture: #{load.list_bytes} bytes.
    """
  else
    "### API load: 100 pods, 10 minutes\n\nnot measured (the run failed)\n"
  end

lat_md =
  if lat do
    """
    ### Watch event → member meshed

    #{lat.rounds} rounds, pod-like BEAM nodes in network namespaces, 3 members to start with. The
    clock starts just before the fixture is told (admin call over HTTPS) and stops when the
    observer sees the change in every member's `nodes()`; it includes the admin call, the
    fixture's event, clusterd's reaction, the handshakes and the observer's polling.

    | change | median ms | max ms |
    |---|---|---|
    | pod becomes ready → meshed with every member | #{fmt.(lat.join_median)} | #{fmt.(lat.join_max)} |
    | pod becomes not ready → disconnected everywhere | #{fmt.(lat.leave_median)} | #{fmt.(lat.leave_max)} |
    | (the admin call alone: a curl process and a TLS handshake) | #{fmt.(lat.admin_median)} | |
    """
  else
    "### Watch event → member meshed\n\nnot measured (the run failed)\n"
  end

md = "\n## Kubernetes API discovery\n\nMade by `make bench` (bench/kube_bench.sh) on #{Calendar.strftime(DateTime.utc_now(), "%Y-%m-%d %H:%M UTC")}.\n\n" <> load_md <> "\n" <> lat_md
File.write!(System.get_env("BENCH_OUT", "/tmp/kube-bench.md"), md)
IO.puts(md)
System.halt(if failures == 0, do: 0, else: 1)
