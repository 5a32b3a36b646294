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

// Every probe declared in `path` (empty when it has none). Throws pyat::Error if the file cannot be
// read as ELF.
std::vector<UsdtProbe> usdt_probes(const std::string& path);

bool has_usdt_probe(const std::vector<UsdtProbe>& probes, const std::string& provider, const std::string& name);

}  // namespace pyat
