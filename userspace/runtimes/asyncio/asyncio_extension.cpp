#include "runtimes/asyncio/asyncio_extension.h"

#include "process/target_file.h"

namespace pyat {

AsyncioExtension asyncio_extension(const std::vector<Mapping>& maps, const std::string& interpreter) {
    for (const auto& m : maps) {
        const std::string path = without_deleted_suffix(m.path);
        const std::string name = path.substr(path.rfind('/') + 1);
        if (name.rfind("_asyncio.", 0) == 0 && name.ends_with(".so")) return {m.path, true};
    }
    return {interpreter, false};
}

}  // namespace pyat
