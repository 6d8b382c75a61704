# `clusterd status` asks the running coordinator (a C-node) for its view.
defmodule Clusterd.StatusTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  test "status --json against a running coordinator: topologies, members, full_mesh, last_actions",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2 n3 n4), connect_all: false)
    config = H.write_config(ctx, hosts: members)
    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    H.wait_for_hidden_peer(ctx, members, h.node)

    args = ["status", "--coordinator", "#{h.node}", "--cookie-file", ctx.cookie_file, "--json"]

    {r, j} =
      case H.wait_until(20_000, fn ->
             r = H.run_cli(ctx, args)

             with 0 <- r.status,
                  {:ok, %{"full_mesh" => true} = j} <- JSON.decode(r.out),
                  do: {r, j},
                  else: (_ -> false)
           end) do
        {:ok, rj} ->
          rj

        :timeout ->
          r = H.run_cli(ctx, args)

          flunk(
            "status never reported full_mesh true; exit #{r.status}\nstdout:\n#{r.out}\nstderr:\n#{r.err}"
          )
      end

    assert r.status == 0
    assert %{"test" => _} = j["topologies"], "topologies: #{inspect(j["topologies"])}"

    assert Enum.sort(member_names(j["members"])) == Enum.sort(Enum.map(members, &to_string/1)),
           "members: #{inspect(j["members"])}"

    assert j["full_mesh"] == true
    assert is_list(j["last_actions"])

    # The same through -c FILE (cookie and coordinator name from the config).
    r2 = H.run_cli(ctx, ["status", "-c", config, "--json"])
    assert r2.status == 0, "status -c: exit #{r2.status}\n#{r2.err}"
    j2 = JSON.decode!(r2.out)
    assert j2["full_mesh"] == true
    assert Enum.sort(member_names(j2["members"])) == Enum.sort(Enum.map(members, &to_string/1))

    # Human output names every member.
    r3 = H.run_cli(ctx, Enum.drop(args, -1))
    assert r3.status == 0, r3.err

    for m <- members,
        do: assert(r3.out =~ to_string(m), "human status does not name #{m}:\n#{r3.out}")
  end

  test "status exits 1 when no coordinator is running", ctx do
    r =
      H.run_cli(ctx, [
        "status",
        "--coordinator",
        "clusterd@127.0.0.1",
        "--cookie-file",
        ctx.cookie_file,
        "--json"
      ])

    assert r.status == 1, "exit #{r.status}\nstdout:\n#{r.out}\nstderr:\n#{r.err}"
  end

  # Members may be listed as names or as objects carrying the name.
  defp member_names(list) when is_list(list) do
    Enum.map(list, fn
      name when is_binary(name) -> name
      %{"node" => name} -> name
      %{"name" => name} -> name
      other -> flunk("unrecognised member entry #{inspect(other)}")
    end)
  end

  defp member_names(other), do: flunk("members is not a list: #{inspect(other)}")

  test "status shows sources that failed inside a good round (one host of an ErlangHosts file)",
       ctx do
    # 127.0.0.1 answers (the test's epmd); 127.0.0.3 runs no epmd. The round
    # is good (its members are meshed) and counts one failed source.
    [n1, n2] = members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    hosts_file = Path.join(ctx.dir, "hosts.erlang")
    File.write!(hosts_file, "'127.0.0.1'.\n'127.0.0.3'.\n")

    config =
      H.write_config(ctx,
        topologies: [{"far", "erlang_hosts", [hosts_file: hosts_file, polling_interval: 1000]}]
      )

    h = H.start_clusterd(ctx, config)
    H.wait_for_full_mesh(ctx, members)
    args = ["status", "--coordinator", "#{h.node}", "--cookie-file", ctx.cookie_file, "--json"]

    assert {:ok, far} =
             H.wait_until(20_000, fn ->
               with %{status: 0, out: out} <- H.run_cli(ctx, args),
                    {:ok, %{"topologies" => %{"far" => far}}} <- JSON.decode(out),
                    1 <- far["failed_sources"],
                    do: far,
                    else: (_ -> false)
             end)

    assert far["error"] == nil
    assert Enum.sort(far["members"]) == Enum.sort(Enum.map([n1, n2], &to_string/1))
  end
end
