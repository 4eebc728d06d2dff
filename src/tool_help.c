/* SPDX-License-Identifier: Apache-2.0 */
/* `vmpull --help`, `vmpull help <command>`, `vmpull <command> --help`. */
#include "tool.h"

#include <stdio.h>
#include <string.h>

/* The pull help says "default 1T". */
_Static_assert(VMPULL_DEFAULT_MAX_SIZE == 1ull << 40, "the --max-size help names the default");

static const char main_help[] = "Usage: vmpull COMMAND [OPTIONS]\n"
                                "\n"
                                "Acquire a virtual-machine disk image and leave a ready-to-boot, uncompressed,\n"
                                "sparse disk file behind.\n"
                                "\n"
                                "Commands:\n"
                                "  pull SOURCE      fetch, verify and decompress a disk image\n"
                                "  cache COMMAND    list, prune or verify the download cache\n"
                                "  inspect SOURCE   show what pull would fetch from an OCI source (JSON)\n"
                                "  save SOURCE DEST copy an image, still compressed, into an OCI layout (air gaps)\n"
                                "  help [COMMAND]   show help for a command\n"
                                "  completion SHELL print the bash, zsh or fish completion script\n"
                                "\n"
                                "Options:\n"
                                "  --version        print the version\n"
                                "  -h, --help       show this help\n"
                                "\n"
                                "Examples:\n"
                                "  vmpull pull ./fedora-coreos-qemu.x86_64.qcow2.xz\n"
                                "  vmpull help pull\n";

/* After the main and the pull help: where vmpull looks, besides its options. */
static const char environment_help[] =
    "\n"
    "Environment:\n"
    "  VMPULL_DEFAULT_IMAGE   what docker:// alone pulls (as --default-image)\n"
    "  VMPULL_DEBUG           1: as --verbose\n"
    "  VMPULL_MIRRORS         registry mirrors, comma-separated REGISTRY=MIRROR (as --mirror,\n"
    "                         which replaces them)\n"
    "  https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY, all_proxy, no_proxy, NO_PROXY\n"
    "                         proxies for http(s) sources and registries, as curl and the\n"
    "                         containers tools read them\n"
    "  REGISTRY_AUTH_FILE     registry credentials file (containers auth.json format)\n"
    "  CONTAINERS_REGISTRIES_CONF  the main registries.conf (as --registries-conf)\n"
    "  XDG_DATA_HOME          disks go to $XDG_DATA_HOME/vmpull/<provider> (default\n"
    "                         ~/.local/share/vmpull/<provider>)\n"
    "  XDG_CACHE_HOME         the cache is $XDG_CACHE_HOME/vmpull (default ~/.cache/vmpull)\n"
    "  LOCALAPPDATA           Windows: the cache is %LOCALAPPDATA%\\vmpull\\cache,\n"
    "                         disks go to %LOCALAPPDATA%\\vmpull\\<provider>\n"
    "  XDG_RUNTIME_DIR        $XDG_RUNTIME_DIR/containers/auth.json holds credentials\n"
    "  NO_COLOR               honoured; vmpull draws its progress without colour anyway\n"
    "\n"
    "Files:\n"
    "  ~/.local/share/vmpull/<provider>/<name>_<image>  pulled disks (the naming rule)\n"
    "  ~/.cache/vmpull/       the cache: blobs/sha256/<hex> (as fetched), disks/sha256/<hex>\n"
    "                         (--keep-uncompressed), partial/ (downloads to resume), refs/\n"
    "  $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,\n"
    "  ~/.config/containers/auth.json, ~/.docker/config.json\n"
    "                         registry credentials: the first file that exists (auths,\n"
    "                         credHelpers, credsStore), unless --creds or --authfile\n"
    "  $CONTAINERS_REGISTRIES_CONF, else ~/.config/containers/registries.conf if it exists,\n"
    "  else /etc/containers/registries.conf, then *.conf in /etc/containers/registries.conf.d\n"
    "  (not with the $HOME file) and ~/.config/containers/registries.conf.d\n"
    "                         containers-registries.conf(5) for docker://: [[registry]] prefix,\n"
    "                         location, insecure, blocked, mirrors (after --mirror),\n"
    "                         credential-helpers; aliases are never applied\n"
    "  ~/.config/containers/certs.d/<host:port>/, /etc/containers/certs.d/<host:port>/,\n"
    "  /etc/docker/certs.d/<host:port>/\n"
    "                         a registry's TLS files, the first folder that exists: every\n"
    "                         *.crt a CA, every X.cert + X.key a client certificate\n"
    "                         (--cert-dir replaces the folder)\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
    "130 interrupted (SIGINT), 143 terminated (SIGTERM).\n"
    "With --json, a failure prints {\"error\": {\"code\": NAME, \"message\": TEXT}}; NAME is one of\n"
    "usage, not_found, io, unsupported_format, corrupt, digest_mismatch, limit, network,\n"
    "http, tls, auth, manifest, no_match, cancelled, exists, config, signature. pull's error also has errno,\n"
    "http_status and curl_code (null when they do not apply).\n";

static const char pull_help[] =
    "Usage: vmpull pull [OPTIONS] SOURCE\n"
    "\n"
    "SOURCE is one of:\n"
    "  PATH                   a local file (anything without a scheme: ./disk.qcow2.xz, C:\\img.vhdx)\n"
    "  http://URL, https://URL  a download, named after the URL's last path segment (no\n"
    "                         query string; -o when there is none); user:password@ in the\n"
    "                         URL is never shown\n"
    "  oci-dir://PATH[:REF]   an OCI image layout folder, REF picking an index entry\n"
    "  oci-archive://FILE[:REF]  the same, as one tar file\n"
    "  docker://REF           a registry image (docker://quay.io/podman/machine-os:5.3);\n"
    "                         docker:// alone: the default machine image (--default-image)\n"
    "  fcos://STREAM          Fedora CoreOS' current image of a stream (stable, testing, next)\n"
    "  oci:PATH[:REF], oci-archive:FILE[:REF]  skopeo's spellings of oci-dir://, oci-archive://\n"
    "                         (other transports, dir: docker-archive: ..., are refused; a file\n"
    "                         named like one is ./dir:x)\n"
    "\n"
    "The image is decompressed (xz, lzma, lzip, gzip, zstd, bzip2, zip or none, detected\n"
    "from its magic bytes) in one streaming pass into a sparse file that appears under its\n"
    "final name only when complete. stdout gets one line: the path of the disk.\n"
    "\n"
    "Output:\n"
    "  -n, --name NAME        machine name used in the output name (default " VMPULL_DEFAULT_MACHINE_NAME "),\n"
    "                         as podman takes it: [a-zA-Z0-9][a-zA-Z0-9_.-]*\n"
    "      --provider P       qemu (default), applehv, libkrun, hyperv or wsl; for OCI\n"
    "                         machine images also the disk picked (disktype qemu, applehv\n"
    "                         for applehv and libkrun, hyperv, wsl)\n"
    "      --arch ARCH        x86_64/amd64 or aarch64/arm64 (default: this host): the\n"
    "                         index entry picked from an OCI source\n"
    "      --platform linux/ARCH[/VARIANT]  the same as --arch, as podman spells it\n"
    "      --data-dir DIR     output folder (default $XDG_DATA_HOME/vmpull/<provider>,\n"
    "                         i.e. ~/.local/share/vmpull/<provider>); created 0700\n"
    "  -o, --output PATH      exact output path (overrides the naming rule\n"
    "                         <data-dir>/<name>_<image name without .xz/.gz/.zst/.bz2/.zip>);\n"
    "                         a block device (or a link to one, /dev/disk/by-id/...) is written\n"
    "                         in place: raw disks only, not when mounted or in use, its first\n"
    "                         MiB written last; a failed pull leaves a partial image there;\n"
    "                         '-' writes the disk to stdout (not a terminal), no path line\n"
    "      --replace          replace an existing output atomically (else it is an error);\n"
    "                         on a device: write over one that is not empty (not atomic)\n"
    "      --assume-zeroed    the device reads as zeros already: its holes are not zeroed\n"
    "      --bmap FILE        also write the disk's block map (bmap 2.0, for bmaptool copy)\n"
    "      --mode MODE        output file mode, octal (default 0644)\n"
    "      --max-size SIZE    refuse to write more than SIZE (512M, 1G, 2T; default 1T)\n"
    "\n"
    "Verification:\n"
    "      --digest sha256:HEX  expected digest of the source bytes as fetched\n"
    "      --checksums FILE|URL  SHA256SUMS (or Fedora CHECKSUM) file to look the image's\n"
    "                         file name up in; a missing entry is an error; a signed list\n"
    "                         must verify and only its signed text is read\n"
    "      --checksums-signature FILE|URL  detached signature of --checksums (SHA256SUMS.gpg)\n"
    "      --keyring FILE     OpenPGP keys fcos:// disks and checksum lists must be signed by\n"
    "                         (default: the shipped Fedora keys); an unsigned list is refused\n"
    "      --insecure-skip-signature  check no signature of fcos:// disks and checksum lists\n"
    "      --signature-policy FILE  containers-policy.json for OCI sources (default\n"
    "                         ~/.config/containers/policy.json, then /etc/containers/policy.json;\n"
    "                         none: anything is accepted); a rejected image fails with\n"
    "                         'signature' before its disk is requested\n"
    "      --registries.d DIR  lookaside signature stores (default ~/.config/containers/\n"
    "                         registries.d if it exists, else /etc/containers/registries.d)\n"
    "\n"
    "Network (http(s) sources, registries, checksum files):\n"
    "      --tls-verify[=BOOL]  verify TLS certificates (default true); false warns once,\n"
    "                         and lets a registry be tried over plain http\n"
    "      --ca-cert FILE     extra CA certificates (PEM), added to the system's\n"
    "      --cert-dir DIR     certs.d-style folder for every registry host: *.crt CAs,\n"
    "                         client *.cert and *.key (default: each host's certs.d)\n"
    "      --user-agent UA    HTTP User-Agent (default vmpull/<version>)\n"
    "      --connect-timeout SECONDS  connect timeout (default 30)\n"
    "      --stall-timeout SECONDS  abort a transfer below 1 KiB/s for this long (default 60)\n"
    "      --retries N        retries after the first attempt (0-100, default 5)\n"
    "      --connections N    at most N connections for one download whose server takes\n"
    "                         ranges (1-32, default 8), added while they speed it up;\n"
    "                         1: one streaming request\n"
    "\n"
    "Registries (docker://, fcos://):\n"
    "      --creds USER:PASS  registry credentials (else the auth files, see FILES);\n"
    "                         USER alone: the password is asked for on the terminal\n"
    "      --username USER    with --password PASS or --password-stdin (one line of stdin):\n"
    "                         the same as --creds USER:PASS, as skopeo spells it\n"
    "      --password PASS    see --username\n"
    "      --password-stdin   see --username\n"
    "      --no-creds         no credentials at all, auth files and helpers neither\n"
    "      --authfile FILE    containers auth.json (default $REGISTRY_AUTH_FILE, then the\n"
    "                         files listed under FILES)\n"
    "      --default-image REF  what docker:// alone pulls (or $VMPULL_DEFAULT_IMAGE;\n"
    "                         default quay.io/podman/machine-os:<os-version>)\n"
    "      --os-version X.Y   version of the default machine image\n"
    "      --mirror REGISTRY=MIRROR  try MIRROR (host[:port][/namespace]) before REGISTRY;\n"
    "                         repeatable, tried in order (default $VMPULL_MIRRORS). A mirror\n"
    "                         that is down, answers 401, 403, 404 or 5xx is skipped with a\n"
    "                         warning; a digest mismatch is an error. --creds never go to a\n"
    "                         mirror, only auth files do. --json reports the \"mirror\" used\n"
    "      --mirror-by-digest-only  use mirrors only for references by digest (@sha256:...);\n"
    "                         tags are resolved at the registry itself\n"
    "      --registries-conf FILE  read FILE instead of the main registries.conf (the\n"
    "                         drop-in folders still apply, as for skopeo)\n"
    "      --no-registries-conf  ignore registries.conf and its drop-ins\n"
    "\n"
    "Performance and display:\n"
    "      --threads N        decoder threads (default: online CPUs)\n"
    "      --cache-dir DIR    cache folder (default $XDG_CACHE_HOME/vmpull, i.e. ~/.cache/vmpull)\n"
    "      --no-cache         neither read nor write the cache\n"
    "      --offline          no network: use only what the cache holds (fails if it is not there)\n"
    "      --refresh          fail when the server cannot be reached, rather than use the\n"
    "                         cached copy (which vmpull otherwise does, with a warning)\n"
    "      --keep-cache       do not prune cache entries unused for 14 days after the pull\n"
    "      --keep-uncompressed  also keep the decoded disk in the cache: the next machine\n"
    "                         from the same image is a (reflink) copy\n"
    "      --stream-url URL   fcos:// stream metadata (default\n"
    "                         https://builds.coreos.fedoraproject.org/streams/<stream>.json)\n"
    "  -q, --quiet            no progress (warnings and errors still shown)\n"
    "      --progress WHEN    auto (default): one line redrawn in place on a terminal, else a\n"
    "                         plain line every 5 s; always: redrawn in place; never; json:\n"
    "                         one JSON event per line, every stderr line JSON (man vmpull)\n"
    "      --progress-fd N    write the progress (and with json, every event) to fd N\n"
    "  -v, --verbose          log each decision and HTTP request on stderr (credentials\n"
    "                         masked, tokens never shown); also VMPULL_DEBUG=1\n"
    "      --json             print one JSON object (path, source, format, digest, size,\n"
    "                         allocated, cache, bytes_transferred, resumed_from, mirror, ...)\n"
    "                         instead of the path; errors as {\"error\": {...}}\n"
    "\n"
    "Examples:\n"
    "  vmpull pull ./disk.qcow2.xz\n"
    "  vmpull pull -o /var/lib/vms/dev.raw --replace --digest sha256:4a5b... ./dev.raw.zst\n"
    "  vmpull pull --json --name ci-runner ./fedora.qcow2.gz\n"
    "  vmpull pull --checksums https://example.org/SHA256SUMS https://example.org/disk.raw.xz\n"
    "  vmpull pull --ca-cert ./lab-ca.pem --connect-timeout 10 --retries 2 https://lab/disk.qcow2.zst\n"
    "  vmpull pull --provider applehv --arch arm64 docker://quay.io/podman/machine-os:5.3\n"
    "  vmpull pull --authfile ./auth.json --tls-verify=false docker://127.0.0.1:5000/os:1\n"
    "  vmpull pull -o disk.raw oci-dir:///srv/layout:fedora-40\n"
    "  vmpull pull --mirror quay.io=cache.example:5000 docker://quay.io/podman/machine-os:5.5\n"
    "  vmpull pull --progress never -q --data-dir ./vms --mode 0600 --max-size 64G ./disk.img.bz2\n";

static const char cache_help[] =
    "Usage: vmpull cache list [--json] [--cache-dir DIR]\n"
    "       vmpull cache prune [--older-than DURATION | --all] [--max-size SIZE] [--json]\n"
    "       vmpull cache verify [--json] [--cache-dir DIR]\n"
    "\n"
    "The cache (default $XDG_CACHE_HOME/vmpull, i.e. ~/.cache/vmpull) keeps what pulls\n"
    "fetched, by digest, so that the same image is never downloaded twice, and the\n"
    "bytes of interrupted downloads, so that the next pull resumes them.\n"
    "\n"
    "  list      every entry: kind (blob, disk, partial), digest, size, last use, source\n"
    "  prune     remove entries not used for 14 days (--older-than 12h, 30d, ...; --all:\n"
    "            everything), then the least recently used until the cache is at most\n"
    "            --max-size (alone, --max-size applies no age limit). Entries a running\n"
    "            pull holds are kept. `vmpull pull` prunes with the 14 day default after\n"
    "            each successful pull unless --keep-cache.\n"
    "  verify    re-hash every blob and check every kept disk against its record (the\n"
    "            map of its chunks), remove the damaged ones and list them; exit status 1\n"
    "            when any was found\n"
    "\n"
    "Options:\n"
    "      --cache-dir DIR    the cache folder (default $XDG_CACHE_HOME/vmpull)\n"
    "      --json             print one JSON object ({\"entries\": [...]} or {\"removed\": [...]});\n"
    "                         errors as {\"error\": {...}}\n"
    "      --older-than DURATION  prune: entries unused for this long (14d, 12h, 30m)\n"
    "      --all              prune: every entry\n"
    "      --max-size SIZE    prune: then the least recently used down to SIZE (512M, 20G)\n"
    "\n"
    "Examples:\n"
    "  vmpull cache list\n"
    "  vmpull cache prune --older-than 3d --max-size 20G\n";

static const char save_help[] =
    "Usage: vmpull save [--all] [PULL OPTIONS] SOURCE DEST\n"
    "       vmpull save [--all] [PULL OPTIONS] SOURCE --to-archive FILE\n"
    "\n"
    "Copy what `vmpull pull SOURCE` would fetch, still compressed and byte for byte (its\n"
    "manifest, config and layer, digests checked while copying), into an OCI image layout,\n"
    "to carry it across an air gap or serve it to a fleet: on the far side\n"
    "`vmpull pull oci-dir://PATH:REF` works offline. SOURCE is docker://, oci-dir://,\n"
    "oci-archive://, a local file or an http(s) URL (wrapped as a machine-OS artifact: one\n"
    "layer titled with the file name, disktype from --provider, platform from --arch).\n"
    "\n"
    "DEST is one of:\n"
    "  oci-dir://PATH[:REF]   a layout folder, created when missing; further saves add to\n"
    "                         its index.json (an entry of the same REF is replaced)\n"
    "  oci-archive://FILE[:REF]  the same layout as one tar file\n"
    "REF (the entry's org.opencontainers.image.ref.name) defaults to the source's tag or\n"
    "REF, else latest. Blobs go in first, index.json last by rename: an interrupted save\n"
    "leaves the layout as it was. stdout gets one line: oci-dir://PATH:REF.\n"
    "\n"
    "      --all              every disk the index offers (all disktypes and architectures),\n"
    "                         the index itself as the entry\n"
    "      --to-archive FILE  write oci-archive://FILE (replaced only with --replace)\n"
    "      --json             print {source, destination, ref_name, digest, media_type, mirror,\n"
    "                         manifests, blobs, blobs_reused, bytes}; errors as {\"error\": ...}\n"
    "Pull options that apply: --provider, --arch, --digest, the network and registry options\n"
    "(--creds, --authfile, --tls-verify, --cert-dir, --mirror, ...), --replace, -q, --progress.\n"
    "\n"
    "Examples:\n"
    "  vmpull save docker://quay.io/podman/machine-os:5.5 oci-dir:///media/usb/machine-os\n"
    "  vmpull save --all docker://quay.io/podman/machine-os:5.5 --to-archive machine-os.tar\n"
    "  vmpull save --provider applehv --arch arm64 ./disk.raw.zst oci-dir://./layout:dev\n";

static const char inspect_help[] =
    "Usage: vmpull inspect [--all] [PULL OPTIONS] SOURCE\n"
    "\n"
    "Resolve an oci-dir:// or docker:// SOURCE exactly as `vmpull pull` would (same\n"
    "--provider, --arch, credentials and TLS options) and print, as one JSON object, what\n"
    "pull would fetch: reference, index_digest, manifest_digest, platform, disktype,\n"
    "layer_digest, size, media_type, file_name, format and the output_path pull would\n"
    "write. No disk is downloaded: only the manifests and the first bytes of the layer.\n"
    "Of a file, an http(s) URL or fcos://: source, url, reference, file_name, format,\n"
    "size and digest (null when not known without reading it all) and output_path, from\n"
    "the first 4096 bytes (over http one Range request).\n"
    "\n"
    "      --all              every disk the index offers, in \"entries\", each marked\n"
    "                         \"selected\" when it is the one pull would choose\n"
    "      --json             errors as {\"error\": {...}} on stdout too\n"
    "\n"
    "Examples:\n"
    "  vmpull inspect docker://\n"
    "  vmpull inspect --all docker://quay.io/podman/machine-os:5.5\n"
    "  vmpull inspect --provider applehv --arch arm64 oci-dir://./layout:latest\n"
    "  vmpull inspect https://example.com/fedora-coreos.qcow2.xz\n";

static const char completion_help[] =
    "Usage: vmpull completion bash|zsh|fish\n"
    "\n"
    "Print the completion script of a shell on stdout, made from the options vmpull parses\n"
    "(each command offered exactly the options it takes). Installed packages carry them already;\n"
    "to load one by hand:\n"
    "\n"
    "Examples:\n"
    "  source <(vmpull completion bash)\n"
    "  vmpull completion zsh > ~/.zfunc/_vmpull\n"
    "  vmpull completion fish > ~/.config/fish/completions/vmpull.fish\n";

const char *tool_help_text(const char *topic) {
  static const struct {
    const char *topic;
    const char *text;
  } topics[] = {{"pull", pull_help},   {"inspect", inspect_help}, {"save", save_help},
                {"cache", cache_help}, {"help", main_help},       {"completion", completion_help}};
  if (!topic)
    return main_help;
  for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
    if (!strcmp(topic, topics[i].topic))
      return topics[i].text;
  return NULL;
}

int tool_help(const char *topic) {
  if (!topic || !strcmp(topic, "help")) {
    fputs(main_help, stdout);
    fputs(environment_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "inspect")) {
    fputs(inspect_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "cache")) {
    fputs(cache_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "save")) {
    fputs(save_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "completion")) {
    fputs(completion_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "pull")) {
    fputs(pull_help, stdout);
    fputs(environment_help, stdout);
    return 0;
  }
  return tool_unknown_command(topic);
}

int tool_unknown_command(const char *word) {
  /* What main() dispatches on; a near miss of one gets a suggestion. */
  static const char *const known[] = {"pull",    "inspect", "cache",      "save",     "help",
                                      "version", "--help",  "completion", "--version"};
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    size_t d = tool_edit_distance(word, known[i]);
    if (d < best_d) {
      best_d = d;
      best = known[i];
    }
  }
  if (best && best_d <= 2 && best_d < strlen(word))
    tool_error("unknown command '%s' (did you mean '%s'?)", word, best);
  else
    tool_error("unknown command '%s' (see 'vmpull --help')", word);
  return EXIT_USAGE;
}
