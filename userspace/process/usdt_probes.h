// The USDT probes (SystemTap SDT notes, .note.stapsdt) an ELF file declares: which of CPython's
// probes an interpreter (or a stand-in) can fire.
#pragma once

#include <string>
#include <vector>

namespace pyat {

struct UsdtProbe {
    std::string provider;  // "python"
    std::string name;      // "function__entry"
};

class ElfFile;

// Every probe declared in the file (empty when it has none), read from the file already open.
std::vector<UsdtProbe> usdt_probes(const ElfFile& elf);

bool has_usdt_probe(const std::vector<UsdtProbe>& probes, const std::string& provider, const std::string& name);

}  // namespace pyat
