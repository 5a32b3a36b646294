#include "cpython/python_objects.h"

#include <algorithm>

#include "base/text_encoding.h"

namespace pyat {

namespace {
constexpr size_t max_string_chars = 4096;
constexpr uint64_t max_dict_entries = 1 << 16;
constexpr uint64_t type_flag_inline_values = 1ULL << 2;  // Py_TPFLAGS_INLINE_VALUES (3.13+)
constexpr int64_t managed_dict_offset = -24;              // obj[-3]: dict (or tagged values, 3.12)
constexpr int64_t managed_values_offset_311 = -32;        // obj[-4]: values (3.11)

}  // namespace

std::string PythonObjects::read_unicode(uint64_t address) const {
    if (!address) return {};
    auto length = memory_.read_value<int64_t>(address + layout_.unicode_length);
    auto state = memory_.read_value<uint32_t>(address + layout_.unicode_state);
    if (!length || !state || *length < 0) return {};
    size_t n = std::min<size_t>(size_t(*length), max_string_chars);
    unsigned kind = (*state >> 2) & 7;
    bool compact = (*state >> 5) & 1;
    bool ascii = (*state >> 6) & 1;
    if (!compact || (kind != 1 && kind != 2 && kind != 4)) return {};
    // Compact ASCII keeps its characters after a shorter header than other compact strings.
    uint64_t data = address + (ascii ? layout_.unicode_ascii_data : layout_.unicode_compact_data);
    auto raw = memory_.read_bytes(data, n * kind);
    if (!raw) return {};
    return utf8_from_code_units(raw->data(), n, kind);
}

bool PythonObjects::unicode_equals(uint64_t str, std::string_view text) const {
    auto length = memory_.read_value<int64_t>(str + layout_.unicode_length);
    if (!length || uint64_t(*length) != text.size()) return false;
    return read_unicode(str) == text;
}

std::optional<int64_t> PythonObjects::read_long(uint64_t obj) const {
    auto size = memory_.read_value<int64_t>(obj + layout_.long_size);
    if (!size) return std::nullopt;
    uint64_t ndigits;
    bool negative;
    if (layout_.long_tagged) {  // lv_tag: ndigits << 3 | sign (0 positive, 1 zero, 2 negative)
        ndigits = uint64_t(*size) >> 3;
        negative = (*size & 3) == 2;
        if ((*size & 3) == 1) return 0;
    } else {
        negative = *size < 0;
        ndigits = uint64_t(negative ? -*size : *size);
    }
    if (ndigits > 3) return std::nullopt;  // 30-bit digits: three hold 64 bits
    uint64_t value = 0;
    for (uint64_t i = 0; i < ndigits; i++) {
        auto digit = memory_.read_value<uint32_t>(obj + layout_.long_digits + 4 * i);
        if (!digit) return std::nullopt;
        value |= uint64_t(*digit & 0x3fffffff) << (30 * i);
    }
    return negative ? -int64_t(value) : int64_t(value);
}

std::optional<PythonObjects::Keys> PythonObjects::read_keys(uint64_t keys) const {
    if (!keys) return std::nullopt;
    auto nentries = memory_.read_value<int64_t>(keys + layout_.dictkeys_nentries);
    if (!nentries || *nentries < 0 || uint64_t(*nentries) > max_dict_entries) return std::nullopt;
    Keys k;
    k.count = uint64_t(*nentries);
    if (layout_.dict_layout == DictLayout::sized) {
        auto size = memory_.read_value<int64_t>(keys + layout_.dictkeys_size);
        if (!size || *size <= 0 || *size > int64_t(4 * max_dict_entries)) return std::nullopt;
        unsigned width = *size <= 0xff ? 1 : *size <= 0xffff ? 2 : *size <= 0xffffffffLL ? 4 : 8;
        k.entries = keys + layout_.dictkeys_indices + uint64_t(*size) * width;
        k.entry_size = layout_.dict_entry_size;
        k.key_at = 8;
        k.value_at = 16;
    } else {
        auto index_bytes = memory_.read_value<uint8_t>(keys + layout_.dictkeys_index_bytes);
        auto kind = memory_.read_value<uint8_t>(keys + layout_.dictkeys_kind);
        if (!index_bytes || !kind || *index_bytes > 40) return std::nullopt;
        k.entries = keys + layout_.dictkeys_indices + (uint64_t(1) << *index_bytes);
        if (*kind == 0) {  // DICT_KEYS_GENERAL: {hash, key, value}
            k.entry_size = layout_.dict_entry_size;
            k.key_at = 8;
            k.value_at = 16;
        } else {  // unicode or split keys: {key, value}
            k.entry_size = layout_.dict_unicode_entry_size;
            k.key_at = 0;
            k.value_at = 8;
        }
    }
    return k;
}

std::optional<uint64_t> PythonObjects::find_key(const Keys& keys, std::string_view key) const {
    auto raw = memory_.read_bytes(keys.entries, keys.count * keys.entry_size);
    if (!raw) return std::nullopt;
    for (uint64_t i = 0; i < keys.count; i++) {
        uint64_t k = 0;
        std::copy_n(raw->data() + i * keys.entry_size + keys.key_at, sizeof(k), reinterpret_cast<uint8_t*>(&k));
        if (k && unicode_equals(k, key)) return i;
    }
    return std::nullopt;
}

uint64_t PythonObjects::split_value(uint64_t values, uint64_t index) const {
    return memory_.read_value<uint64_t>(values + layout_.dictvalues_values + 8 * index).value_or(0);
}

std::vector<std::pair<uint64_t, uint64_t>> PythonObjects::dict_items(uint64_t dict) const {
    std::vector<std::pair<uint64_t, uint64_t>> items;
    if (!dict) return items;
    auto keys = read_keys(memory_.read_value<uint64_t>(dict + layout_.dict_keys).value_or(0));
    if (!keys) return items;
    uint64_t values = memory_.read_value<uint64_t>(dict + layout_.dict_values).value_or(0);
    auto raw = memory_.read_bytes(keys->entries, keys->count * keys->entry_size);
    if (!raw) return items;
    for (uint64_t i = 0; i < keys->count; i++) {
        uint64_t k = 0, v = 0;
        const uint8_t* entry = raw->data() + i * keys->entry_size;
        std::copy_n(entry + keys->key_at, 8, reinterpret_cast<uint8_t*>(&k));
        std::copy_n(entry + keys->value_at, 8, reinterpret_cast<uint8_t*>(&v));
        if (values) v = split_value(values, i);
        if (k && v) items.emplace_back(k, v);  // deleted entries have a NULL value
    }
    return items;
}

uint64_t PythonObjects::dict_get(uint64_t dict, std::string_view key) const {
    for (const auto& [k, v] : dict_items(dict))
        if (unicode_equals(k, key)) return v;
    return 0;
}

uint64_t PythonObjects::lookup_in_values(uint64_t type, uint64_t values, std::string_view name) const {
    uint64_t cached = memory_.read_value<uint64_t>(type + layout_.heaptype_cached_keys).value_or(0);
    auto keys = read_keys(cached);
    if (!keys) return 0;
    auto index = find_key(*keys, name);
    return index ? split_value(values, *index) : 0;
}

uint64_t PythonObjects::instance_attribute(uint64_t obj, std::string_view name) const {
    if (!obj) return 0;
    uint64_t type = memory_.read_value<uint64_t>(obj + layout_.object_type).value_or(0);
    if (!type) return 0;
    switch (layout_.instance_dict) {
    case InstanceDict::dictoffset: {
        auto offset = memory_.read_value<int64_t>(type + layout_.type_dictoffset);
        if (!offset || *offset <= 0) return 0;
        return dict_get(memory_.read_value<uint64_t>(obj + uint64_t(*offset)).value_or(0), name);
    }
    case InstanceDict::managed_311: {
        if (uint64_t dict = memory_.read_value<uint64_t>(obj + managed_dict_offset).value_or(0))
            return dict_get(dict, name);
        uint64_t values = memory_.read_value<uint64_t>(obj + managed_values_offset_311).value_or(0);
        return values ? lookup_in_values(type, values, name) : 0;
    }
    case InstanceDict::managed_312: {
        // _PyDictOrValues: a dict pointer, or (values - 1) with bit 0 set.
        uint64_t word = memory_.read_value<uint64_t>(obj + managed_dict_offset).value_or(0);
        if (!word) return 0;
        if (word & 1) return lookup_in_values(type, word + 1, name);
        return dict_get(word, name);
    }
    case InstanceDict::inline_values_313: {
        if (uint64_t dict = memory_.read_value<uint64_t>(obj + managed_dict_offset).value_or(0))
            return dict_get(dict, name);
        uint64_t flags = memory_.read_value<uint64_t>(type + layout_.type_flags).value_or(0);
        if (!(flags & type_flag_inline_values)) return 0;
        auto basicsize = memory_.read_value<int64_t>(type + layout_.type_basicsize);
        if (!basicsize || *basicsize <= 0) return 0;
        uint64_t values = obj + uint64_t(*basicsize);
        auto valid = memory_.read_value<uint8_t>(values + 3);  // PyDictValues.valid
        if (!valid || !*valid) return 0;
        return lookup_in_values(type, values, name);
    }
    }
    return 0;
}

std::optional<attr_ref> PythonObjects::attribute_slot(uint64_t type, std::string_view name) const {
    if (!type) return std::nullopt;
    attr_ref ref{};
    switch (layout_.instance_dict) {
    case InstanceDict::dictoffset:
        return std::nullopt;
    case InstanceDict::managed_311:
        ref.mode = ATTR_VALUES_POINTER;
        ref.offset = int32_t(managed_values_offset_311) ;
        break;
    case InstanceDict::managed_312:
        ref.mode = ATTR_TAGGED_VALUES;
        ref.offset = int32_t(managed_dict_offset);
        break;
    case InstanceDict::inline_values_313: {
        auto basicsize = memory_.read_value<int64_t>(type + layout_.type_basicsize);
        if (!basicsize || *basicsize <= 0 || *basicsize > 65536) return std::nullopt;
        ref.mode = ATTR_INLINE_VALUES;
        ref.offset = int32_t(*basicsize);
        break;
    }
    }
    auto keys = read_keys(memory_.read_value<uint64_t>(type + layout_.heaptype_cached_keys).value_or(0));
    if (!keys) return std::nullopt;
    auto index = find_key(*keys, name);
    if (!index || *index > 0xffff) return std::nullopt;
    // The kernel reads values + 8 * index; the array may start past a header (3.13+).
    ref.index = uint16_t(*index + layout_.dictvalues_values / 8);
    return ref;
}

uint64_t PythonObjects::read_pointer(uint64_t address) const {
    return memory_.read_value<uint64_t>(address).value_or(0);
}

std::vector<uint64_t> PythonObjects::tuple_items(uint64_t tuple) const {
    std::vector<uint64_t> items;
    if (!tuple) return items;
    auto size = memory_.read_value<int64_t>(tuple + layout_.list_size);  // PyVarObject.ob_size
    if (!size || *size <= 0 || *size > 100000) return items;
    auto raw = memory_.read_bytes(tuple + layout_.tuple_items, size_t(*size) * 8);
    if (!raw) return items;
    items.resize(size_t(*size));
    std::copy_n(raw->data(), raw->size(), reinterpret_cast<uint8_t*>(items.data()));
    return items;
}

uint64_t PythonObjects::module_attribute(uint64_t module, std::string_view name) const {
    if (!module) return 0;
    return dict_get(memory_.read_value<uint64_t>(module + layout_.module_dict).value_or(0), name);
}

uint64_t PythonObjects::sys_modules(uint64_t runtime_address) const {
    uint64_t interp =
        memory_.read_value<uint64_t>(runtime_address + layout_.bpf.runtime_interpreters_head).value_or(0);
    return interp ? memory_.read_value<uint64_t>(interp + layout_.interp_modules).value_or(0) : 0;
}

}  // namespace pyat
