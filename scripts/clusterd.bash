# bash completion for clusterd: source it (e.g. from ~/.bashrc, or copy it to
# /etc/bash_completion.d/clusterd).
_clusterd() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="run check status discover mesh ping names connect disconnect form help"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi
    case "$prev" in
    -c | --config | --cookie-file)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --log-format)
        COMPREPLY=($(compgen -W "logfmt json" -- "$cur"))
        return
        ;;
    --timeout | --name | --sname | --coordinator | --nodes)
        COMPREPLY=()
        return
        ;;
    esac
    local opts
    case "${COMP_WORDS[1]}" in
    help) opts=$commands ;;
    run) opts="-c --config --cookie-file -v --verbose --log-format" ;;
    check) opts="-c --config" ;;
    names) opts="--timeout --json --no-color" ;;
    mesh | form) opts="-c --config --nodes --cookie-file --name --sname --timeout --json --no-color -v" ;;
    *) opts="-c --config --cookie-file --name --sname --coordinator --timeout --json --no-color -v" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _clusterd clusterd
