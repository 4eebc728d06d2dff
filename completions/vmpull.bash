# bash completion for vmpull                                  -*- shell-script -*-
# SPDX-License-Identifier: Apache-2.0
#
# Commands and options are read from `vmpull --help` and `vmpull COMMAND --help`
# (once per shell), so they always match the installed vmpull; the values an
# option takes are listed here. Needs nothing from the bash-completion package.

_vmpull_help_words() {
    # $1: command ("" for the top level); prints the long options its help lists.
    local cmd=$1 key=_vmpull_opts_${1//-/_}
    if [[ -z ${!key+set} ]]; then
        local text
        # shellcheck disable=SC2086
        text=$("${_vmpull_bin:-vmpull}" $cmd --help 2>/dev/null)
        printf -v "$key" '%s' "$(grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*=?' <<<"$text" |
            sed -E 's/^[ ,]//; s/=$//' | sort -u | tr '\n' ' ')"
    fi
    printf '%s' "${!key}"
}

_vmpull_commands() {
    if [[ -z ${_vmpull_cmds+set} ]]; then
        # The "Commands:" section: two-space indented lines up to the next blank line.
        _vmpull_cmds=$("${_vmpull_bin:-vmpull}" --help 2>/dev/null |
            sed -n '/^Commands:/,/^$/{s/^  \([a-z][a-z-]*\).*/\1/p}' | tr '\n' ' ')
    fi
    printf '%s' "$_vmpull_cmds"
}

# Options whose value is the next word, and what to offer for it.
_vmpull_value() {
    local opt=$1 cur=$2
    case $opt in
        --provider) COMPREPLY=($(compgen -W 'qemu applehv libkrun hyperv wsl' -- "$cur")) ;;
        --arch) COMPREPLY=($(compgen -W 'x86_64 amd64 aarch64 arm64' -- "$cur")) ;;
        --platform) COMPREPLY=($(compgen -W 'linux/amd64 linux/arm64 linux/arm64/v8' -- "$cur")) ;;
        --progress) COMPREPLY=($(compgen -W 'auto always never' -- "$cur")) ;;
        --tls-verify) COMPREPLY=($(compgen -W 'true false' -- "$cur")) ;;
        --data-dir | --cache-dir | --cert-dir | --registries.d) COMPREPLY=($(compgen -d -- "$cur")) ;;
        -o | --output | --ca-cert | --authfile | --checksums | --to-archive | --registries-conf | --signature-policy | \
            --keyring | --checksums-signature) COMPREPLY=($(compgen -f -- "$cur")) ;;
        -n | --name | --digest | --threads | --max-size | --mode | --user-agent | --connect-timeout | \
            --stall-timeout | --retries | --connections | --creds | --default-image | --os-version | --older-than | \
            --mirror | --stream-url | --username | --password) COMPREPLY=() ;;
        *) return 1 ;;
    esac
    return 0
}

# A source: local paths, or the start of a scheme.
_vmpull_source() {
    local cur=$1
    COMPREPLY=($(compgen -f -- "$cur"))
    if [[ $cur != */* ]]; then
        local schemes
        schemes=($(compgen -W 'http:// https:// oci-dir:// oci-archive:// docker:// fcos:// oci: oci-archive:' -- "$cur"))
        # "docker://" is a prefix to go on typing after, not a finished word
        ((${#schemes[@]})) && compopt -o nospace 2>/dev/null
        COMPREPLY+=("${schemes[@]}")
    fi
}

_vmpull() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd="" i
    _vmpull_bin=${COMP_WORDS[0]}
    [[ -x $_vmpull_bin ]] || _vmpull_bin=vmpull
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} != -* ]]; then
            cmd=${COMP_WORDS[i]}
            break
        fi
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_vmpull_help_words '')" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_vmpull_commands)" -- "$cur"))
        fi
        return 0
    fi

    case $cmd in
        help)
            COMPREPLY=($(compgen -W "$(_vmpull_commands)" -- "$cur"))
            return 0
            ;;
        cache)
            if ((COMP_CWORD == i + 1)); then
                COMPREPLY=($(compgen -W 'list prune verify' -- "$cur"))
                return 0
            fi
            ;;
    esac

    # --opt=value
    if [[ $cur == --*=* ]]; then
        local opt=${cur%%=*}
        _vmpull_value "$opt" "${cur#*=}" && COMPREPLY=("${COMPREPLY[@]/#/$opt=}")
        return 0
    fi
    # bash splits --opt=value at '=' when '=' is in COMP_WORDBREAKS
    if [[ $cur == = || $prev == = ]]; then
        local opt=${COMP_WORDS[COMP_CWORD - 1]} val=""
        [[ $cur == = ]] || { opt=${COMP_WORDS[COMP_CWORD - 2]}; val=$cur; }
        _vmpull_value "$opt" "$val"
        return 0
    fi
    [[ $prev == -* ]] && _vmpull_value "$prev" "$cur" && return 0

    if [[ $cur == -* ]]; then
        local words
        words="$(_vmpull_help_words "$cmd") --help"
        # inspect takes every pull option too ("[PULL OPTIONS]" in its help)
        [[ $cmd == inspect || $cmd == save ]] && words+=" $(_vmpull_help_words pull)"
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return 0
    fi
    _vmpull_source "$cur"
    return 0
}

complete -o filenames -F _vmpull vmpull
