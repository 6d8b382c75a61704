# Kubernetes API load, measured for both: libcluster 3.5's
# Cluster.Strategy.Kubernetes running for real in K member VMs, and clusterd
# (one list + watch), at the same time against the same API fixture
# (test/k8s_fixture) serving N pods behind one service, over the same
# window. Each side has its own bearer token, so the fixture's own request
# log tells whose every request and body byte was.
#
# libcluster is given a service-account directory of its own
# (kubernetes_service_account_path: token, ca.crt, namespace) and the fixture
# as `kubernetes_master` (CLUSTER_DOMAIN set to the same host:port, so that
# libcluster uses the name as it is), endpoints mode, polling_interval 5000
# (its default). The pods are fictitious addresses, so libcluster's connect
# and disconnect calls are replaced by a no-op (`connect:`/`disconnect:`
# topology options): only its API polling is measured.
#
# Run by bench/run.sh (part `kube_libcluster`) through test/run-integration.sh
# (CLUSTERD_TEST_ENTRY), as ExUnit cases so that the harness cleans up every
# process by pid. Writes $BENCH_OUT.

support = Path.expand("../test/support", __DIR__)

for file <- ~w(epmd procs json silent_listener harness kube_fixture bind9) do
  Code.require_file("#{file}.exs", support)
end

Clusterd.Harness.start_observer!()
ExUnit.start(autorun: false, max_cases: 1, timeout: 1_800_000)

# Loaded after the observer has started distribution.
Code.require_file("libcluster_load_cases.exs", __DIR__)

%{failures: failures} = ExUnit.run()

f1 = fn x -> :erlang.float_to_binary(x / 1, decimals: 1) end
f0 = fn x -> Integer.to_string(round(x)) end
sizes = System.get_env("BENCH_KLC_PODS", "100 1000") |> String.split() |> Enum.map(&String.to_integer/1)
loads = for n <- sizes, r = Clusterd.LibclusterLoadBench.fetch({:load, n}), do: r
dns_sizes = System.get_env("BENCH_KLC_DNS_PODS", "100") |> String.split() |> Enum.map(&String.to_integer/1)
dnss = for n <- dns_sizes, r = Clusterd.LibclusterLoadBench.fetch({:dns, n}), do: r
ratio = fn a, b -> if b > 0, do: "1 : #{f0.(b / max(a, 1.0e-9))}", else: "–" end

rows =
  Enum.flat_map(loads, fn l ->
    per_min = 60 / l.seconds
    c = l.clusterd
    lc = l.libcluster
    node_reqs = lc.requests * per_min / l.k
    node_bytes = lc.bytes * per_min / l.k
    all_reqs = node_reqs * l.pods
    all_bytes = node_bytes * l.pods
    cd_reqs = c.requests * per_min
    cd_bytes = c.bytes * per_min
    [
      "| #{l.pods} | requests/min | #{f1.(cd_reqs)} (#{c.requests - c.watches} list, #{c.watches} watch) | #{f1.(node_reqs)} | #{f0.(all_reqs)} | #{ratio.(cd_reqs, all_reqs)} |",
      "| #{l.pods} | response body bytes/min | #{f0.(cd_bytes)} | #{f0.(node_bytes)} | #{f0.(all_bytes)} | #{ratio.(cd_bytes, all_bytes)} |",
      "| #{l.pods} | CPU ms/min (clusterd's process; a member VM running libcluster, idle otherwise) | #{f1.(c.cpu_ms * per_min)} | #{f1.(lc.cpu_ms * per_min / l.k)} | #{f0.(lc.cpu_ms * per_min / l.k * l.pods)} | #{ratio.(c.cpu_ms * per_min, lc.cpu_ms * per_min / l.k * l.pods)} |"
    ]
  end)

dns_rows =
  Enum.flat_map(dnss, fn d ->
    per_min = 60 / d.seconds
    c = d.clusterd
    lc = d.libcluster
    node_q = lc.queries * per_min / d.k
    cd_q = c.queries * per_min

    [
      "| #{d.pods} | DNS queries/min | #{f1.(cd_q)} (#{c.tcp} of #{c.queries} over TCP) | #{f1.(node_q)} (#{d.k} nodes: #{lc.tcp} of #{lc.queries} over TCP) | #{f0.(node_q * d.pods)} | #{ratio.(cd_q, node_q * d.pods)} |",
      "| #{d.pods} | CPU ms/min (clusterd's process; a member VM running libcluster) | #{f1.(c.cpu_ms * per_min)} | #{f1.(lc.cpu_ms * per_min / d.k)} | #{f0.(lc.cpu_ms * per_min / d.k * d.pods)} | #{ratio.(c.cpu_ms * per_min, lc.cpu_ms * per_min / d.k * d.pods)} |"
    ]
  end)

details =
  Enum.map_join(loads, "\n", fn l ->
    "- #{l.pods} pods: window #{f1.(l.seconds)} s, #{l.churn} pod changes; libcluster (#{l.k} nodes): #{l.libcluster.requests} requests (#{l.libcluster.ok} answered 200), paths #{Enum.join(l.libcluster.paths, ", ")}; clusterd: #{l.clusterd.requests} requests, paths #{Enum.join(l.clusterd.paths, ", ")}."
  end)

md = """
## API and DNS load, measured: libcluster next to clusterd

### Kubernetes API

libcluster #{System.get_env("BENCH_LIBCLUSTER_VERSION", "3.5.0")}'s `Cluster.Strategy.Kubernetes` (endpoints mode, `polling_interval` 5000, its
default; built from source at bench time) running for real in #{System.get_env("BENCH_KLC_NODES", "3")} member VMs, and clusterd's
Kubernetes strategy (its default: one list of EndpointSlices, then a watch), at the same time
against the same API fixture (test/k8s_fixture, HTTPS, bearer tokens) serving N pods behind one
service, over the same window that starts before either side's first request. One pod changes
readiness every 5 s. Each side has its own token, so the fixture's request log says whose every
request and response body byte was. The pods are fictitious addresses: libcluster's
`connect`/`disconnect` are a no-op (topology options), so only its API polling is measured.

The CPU rows are rough and not API cost alone: clusterd's includes its own start-up and,
mostly, its connect attempts to the N fictitious members (EPMD refused, retried with its default
backoff, capped at 5 s), which libcluster does not make here (its connect is a no-op); a
libcluster member's figure is its whole VM (JSON decoding of every answer, the rest idle).

Under libcluster every pod polls, so a cluster of N pods makes N times what one node makes: the
"N pods" column is the measured per-node rate × N (stated as such, not N VMs run here).
clusterd's column is the whole cluster's cost: one coordinator. Ratio = clusterd : libcluster
for the whole cluster.

| N pods | measure | clusterd (whole cluster) | libcluster, one node (measured) | libcluster, N pods (per node × N) | ratio |
|---|---|---|---|---|---|
#{Enum.join(rows, "\n")}

#{details}

With clusterd a window starts with the list; afterwards the watch stays open (client-go's
300-600 s timeouts), so over longer windows its rate falls toward one watch per 5-10 minutes
plus one event per pod change, while libcluster's stays at 12 lists per node per minute (a little
fewer: it waits 5 s after each poll's work). `BENCH_KLC_PODS`, `BENCH_KLC_NODES` and
`BENCH_KLC_SECONDS` change the sizes and the window.

### DNS (Kubernetes.DNS)

The same shape against a real bind9 on loopback (test/support/bind9.exs, query log on):
libcluster's `Cluster.Strategy.Kubernetes.DNS` (`polling_interval` 5000, its default resolver
`:inet_res.getbyname/2`, with the members' resolver pointed at this bind9, since libcluster has
no address option) in #{System.get_env("BENCH_KLC_NODES", "3")} members, and clusterd's `Cluster.Strategy.Kubernetes.DNS` at the
same 5 s interval (`resolver.nameservers`), each asking for a name of its own that holds N A
records (TTL 5 s, CoreDNS's default; OTP's resolver caches answers for their TTL), over the same
window. Queries are counted in bind9's query log. N stops at 100: bind9 9.18 refuses more than
100 records of one name and type (`max-records-per-type`). `BENCH_KLC_DNS_PODS` sets the sizes.

| N pods | measure | clusterd (whole cluster) | libcluster, one node (measured) | libcluster, N pods (per node × N) | ratio |
|---|---|---|---|---|---|
#{Enum.join(dns_rows, "\n")}

libcluster's Kubernetes.DNS looks up twice per interval (its `init` returns a 0 timeout and
every `load` also schedules the next one: two timers), and `inet_res` without EDNS retries over
TCP when the answer does not fit 512 bytes (more than about 30 A records).
"""

File.write!(System.fetch_env!("BENCH_OUT"), md)
IO.puts(md)
System.halt(if failures == 0, do: 0, else: 1)
