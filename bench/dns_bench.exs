# DNS discovery benchmark: how long after a pod's A record appears in DNS is
# the pod meshed, against Kubernetes.DNS's polling_interval (goal: within
# one interval + 50 ms). Pod-like hosts (test/support/pods.exs: network
# namespaces, epmd on 4369, app@<ip>) and a real bind9 on the test bridge,
# as in test/integration/dns_kubernetes_test.exs; the records' TTL (30 s) is
# longer than the interval, so only the interval paces the look-ups.
#
# Run by bench/run.sh as the integration observer runs (hidden, ObserverEpmd),
# needs root for `ip netns`. Writes a Markdown section to $BENCH_DNS_OUT.
#
# Clock: t0 just after named has been sent SIGHUP with the new zone (the
# record is served a few ms later, so this errs on the slow side); t1 when
# the observer sees the new pod in every member's nodes() and every member
# in the new pod's. Each round first removes the record and waits until the
# pod is disconnected, then waits a random part of the interval so that the
# record appears at a random phase of clusterd's polling.

support = Path.expand("../test/support", __DIR__)

for file <- ~w(epmd procs json silent_listener harness pods bind9) do
  Code.require_file("#{file}.exs", support)
end

Clusterd.Harness.start_observer!()
ExUnit.start(autorun: false, max_cases: 1, timeout: 900_000)

# Loaded after the observer has started distribution.
Code.require_file("dns_bench_case.exs", __DIR__)

%{failures: failures} = ExUnit.run()
System.halt(if failures == 0, do: 0, else: 1)
