/* SPDX-License-Identifier: Apache-2.0 */
/* `vmpull --help`, `vmpull help <command>`, `vmpull <command> --help`. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static const char main_help[] =
    "Usage: vmpull COMMAND [OPTIONS]\n"
    "\n"
    "Acquire a virtual-machine disk image and leave a ready-to-boot, uncompressed,\n"
    "sparse disk file behind.\n"
    "\n"
    "Commands:\n"
    "  pull SOURCE      fetch, verify and decompress a disk image\n"
    "  help [COMMAND]   show help for a command\n"
    "\n"
    "Options:\n"
    "  --version        print the version\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
    "130 interrupted (SIGINT), 143 terminated (SIGTERM).\n"
    "\n"
    "Example:\n"
    "  vmpull pull ./fedora-coreos-qemu.x86_64.qcow2.xz\n";

static const char pull_help[] =
    "Usage: vmpull pull [OPTIONS] SOURCE\n"
    "\n"
    "SOURCE is a local path (anything without a scheme, e.g. ./disk.qcow2.xz or C:\\img.vhdx).\n"
    "The image is decompressed (xz, lzma, lzip, gzip, zstd, bzip2, zip or none, detected\n"
    "from its magic bytes) in one streaming pass into a sparse file that appears under its\n"
    "final name only when complete. stdout gets one line: the path of the disk.\n"
    "\n"
    "Output:\n"
    "  -n, --name NAME        machine name used in the output name (default podman-machine-default)\n"
    "      --provider P       qemu (default), applehv, libkrun, hyperv or wsl\n"
    "      --arch ARCH        x86_64/amd64 or aarch64/arm64 (default: this host)\n"
    "      --data-dir DIR     output folder (default $XDG_DATA_HOME/vmpull/<provider>,\n"
    "                         i.e. ~/.local/share/vmpull/<provider>); created 0700\n"
    "  -o, --output PATH      exact output path (overrides the naming rule\n"
    "                         <data-dir>/<name>_<image name without .xz/.gz/.zst/.bz2/.zip>)\n"
    "      --replace          replace an existing output atomically (else it is an error)\n"
    "      --mode MODE        output file mode, octal (default 0644)\n"
    "      --max-size SIZE    refuse to write more than SIZE (512M, 1G, 2T; default 1T)\n"
    "\n"
    "Verification:\n"
    "      --digest sha256:HEX  expected digest of the source bytes as fetched\n"
    "\n"
    "Performance and display:\n"
    "      --threads N        decoder threads (default: online CPUs)\n"
    "      --cache-dir DIR    cache folder (default $XDG_CACHE_HOME/vmpull)\n"
    "  -q, --quiet            no progress (warnings and errors still shown)\n"
    "      --progress WHEN    auto (default: when stderr is a terminal), always, never\n"
    "      --json             print one JSON object (path, source, format, digest, size,\n"
    "                         allocated) instead of the path; errors as {\"error\": {...}}\n"
    "\n"
    "Examples:\n"
    "  vmpull pull ./disk.qcow2.xz\n"
    "  vmpull pull -o /var/lib/vms/dev.raw --replace --digest sha256:4a5b... ./dev.raw.zst\n"
    "  vmpull pull --json --name ci-runner ./fedora.qcow2.gz\n";

int tool_help(const char *topic) {
  if (!topic) {
    fputs(main_help, stdout);
    return 0;
  }
  if (!strcmp(topic, "pull")) {
    fputs(pull_help, stdout);
    return 0;
  }
  tool_error("help: no such command '%s' (see 'vmpull --help')", topic);
  return EXIT_USAGE;
}
