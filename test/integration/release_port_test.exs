# Started from an application's release (README, "Two ways to run it"):
# the app opens clusterd as an Erlang port with
# `run --exit-on-eof`; clusterd meshes the members, and when the port closes
# (its owner or the VM gone) it stops by itself instead of outliving the app.
defmodule Clusterd.ReleasePortTest do
  use ExUnit.Case, async: false
  alias Clusterd.Harness, as: H

  setup context, do: {:ok, H.setup_test(context)}

  defp alive?(os_pid) do
    case File.read("/proc/#{os_pid}/stat") do
      {:ok, stat} -> not String.contains?(stat, ") Z ")
      {:error, _} -> false
    end
  end

  test "run --exit-on-eof under an Erlang port stops cleanly when the port closes", ctx do
    members = H.start_erl_nodes(ctx, ~w(n1 n2), connect_all: false)
    config = H.write_config(ctx, hosts: members)
    log = Path.join(ctx.dir, "clusterd-port.log")

    env =
      for {k, v} <- H.env(ctx, [{"LOG", log}]),
          do: {String.to_charlist(k), if(v, do: String.to_charlist(v), else: false)}

    # As an app would: Port.open of the binary (stderr kept in a file here).
    port =
      Port.open({:spawn_executable, "/bin/sh"}, [
        :binary,
        env: env,
        args: ["-c", ~S(exec "$0" "$@" 2>"$LOG"), H.bin(), "run", "-c", config, "--exit-on-eof"]
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)

    try do
      H.wait_for_full_mesh(ctx, members)
      H.wait_for_hidden_peer(ctx, members, :"clusterd@127.0.0.1")
      assert alive?(os_pid)

      Port.close(port)

      assert {:ok, _} = H.wait_until(15_000, fn -> not alive?(os_pid) end),
             "clusterd still runs after its port closed:\n" <> File.read!(log)

      text = File.read!(log)
      assert text =~ ~s[reason="standard input closed (--exit-on-eof)"]
      assert text =~ ~s[msg="clusterd stopped"]
      refute H.sanitizer_report?(text), text

      assert {:ok, _} =
               H.wait_until(10_000, fn ->
                 Enum.all?(members, &H.not_peer?(&1, :"clusterd@127.0.0.1", :hidden))
               end)
    after
      if alive?(os_pid), do: System.cmd("kill", ["-KILL", "#{os_pid}"])
    end
  end
end
