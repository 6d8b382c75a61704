# `clusterd form`: the coordinator run once until the full mesh holds, then
# gone without a trace on the members; and the README's CI recipe, run as is.
defmodule Clusterd.CliFormTest do
  use ExUnit.Case, async: false
  alias Clusterd.{Epmd, Harness, JSON}
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, Harness.setup_test(context)}

  defp nothing_left?(members) do
    Enum.all?(members, fn m ->
      {:ok, hidden} = H.nodes_of(m, :hidden)

      H.forwarders(m, :"none@none") == [] and
        not Enum.any?(hidden, &String.starts_with?(to_string(&1), "clusterd-cli"))
    end)
  end

  test "--nodes: exit 0 once every link holds, nothing of clusterd left on the members", ctx do
    members = H.start_erl_nodes(ctx, ~w(f1 f2 f3 f4), connect_all: false)
    refute H.full_mesh?(members)

    r =
      H.run_cli(ctx, [
        "form",
        "--nodes",
        Enum.join(members, ","),
        "--cookie-file",
        ctx.cookie_file
      ])

    assert r.status == 0, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ ~r/^FULL MESH: 4 members in \d+ ms$/m, r.out
    for m <- members, do: assert(r.out =~ ~r/^  #{Regex.escape(to_string(m))}$/m)
    # judged by the members themselves, right after form returned
    assert H.full_mesh?(members), H.mesh_report(members)

    case H.wait_until(10_000, fn -> nothing_left?(members) end) do
      {:ok, _} ->
        :ok

      :timeout ->
        flunk(
          "left behind: " <>
            inspect(for m <- members, do: {m, H.forwarders(m, :"none@none"), H.nodes_of(m, :hidden)})
        )
    end
  end

  test "-c FILE --json; a member that never comes: exit 1 at --timeout with what is missing",
       ctx do
    members = H.start_erl_nodes(ctx, ~w(t1 t2), connect_all: false)
    ghost = :"ghost@127.0.0.1"
    config = H.write_config(ctx, hosts: members ++ [ghost])

    r = H.run_cli(ctx, ["form", "-c", config, "--timeout", "3000"])
    assert r.status == 1, "exit #{r.status}\n#{r.out}\n#{r.err}"
    assert r.out =~ ~r/^NOT a full mesh after \d+ ms \(timeout\)$/m, r.out
    assert r.out =~ "unreachable: ghost@127.0.0.1: name 'ghost' is not registered", r.out

    r = H.run_cli(ctx, ["form", "-c", config, "--timeout", "3000", "--json"])
    assert r.status == 1
    j = JSON.decode!(r.out)
    assert j["full_mesh"] == false
    assert j["unreachable"] == ["ghost@127.0.0.1"]
    assert is_integer(j["elapsed_ms"])
    # what could be meshed was meshed
    assert H.peer?(hd(members), List.last(members))

    ok = H.write_config(ctx, file: "ok.yaml", hosts: members)
    r = H.run_cli(ctx, ["form", "-c", ok, "--json"])
    assert r.status == 0, r.out <> r.err
    j = JSON.decode!(r.out)
    assert j["full_mesh"] == true
    assert j["missing"] == [] and j["unreachable"] == []
    assert Enum.sort(j["members"]) == Enum.sort(Enum.map(members, &to_string/1))
  end

  test "usage errors exit 2", ctx do
    assert H.run_cli(ctx, ["form"]).status == 2
    assert H.run_cli(ctx, ["form", "--nodes", "a@127.0.0.1", "-c", "x.yaml"]).status == 2
  end

  test "the README's CI recipe with three real iex nodes", ctx do
    script = Path.join(H.root(), "scripts/ci-form-example.sh")
    readme = File.read!(Path.join(H.root(), "README.md"))
    body = script |> File.read!() |> String.replace(~r/\A#!.*\n/, "")
    assert String.contains?(readme, body), "README.md does not carry scripts/ci-form-example.sh verbatim"

    home = Path.join(ctx.dir, "home")
    File.mkdir_p!(home)
    port = H.free_port()
    env = for {k, v} <- H.env(ctx), do: {k, v || nil}

    env =
      env ++
        [{"HOME", home}, {"ERL_EPMD_PORT", "#{port}"}, {"CLUSTERD", H.bin()}]

    {out, status} =
      System.cmd("timeout", ["-k", "5", "120", "sh", script],
        env: env,
        cd: ctx.dir,
        stderr_to_stdout: true
      )

    File.write!(Path.join(ctx.dir, "recipe.out"), out)
    assert status == 0, "recipe exit #{status}:\n#{out}"
    assert out =~ ~r/^FULL MESH: 3 members in \d+ ms$/m, out
    assert length(Regex.scan(~r/^\w+@\S+ sees \[:\w+@\S+, :\w+@\S+\]$/m, out)) == 3, out
    # the recipe stopped its epmd (and with it, its nodes are gone)
    {:ok, _} = H.wait_until(10_000, fn -> match?({:error, _}, Epmd.names(port, 500)) end)
  end
end
