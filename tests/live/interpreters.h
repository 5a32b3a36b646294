// The CPython builds on this machine that live tests run on every version (Debian's python3.11,
// the pyenv builds 3.8-3.13; tools/setup.sh documents them), and a fixture that says so plainly
// when one is missing.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>

struct Interpreter {
    const char* name;     // test-name suffix
    const char* path;     // the interpreter
    const char* prefix;   // its installation prefix; "" for Debian's (static, in /usr/bin)
    const char* version;  // "3.12"
};

// gtest prints a parameter with this (its test-name suffix) rather than as raw bytes.
inline void PrintTo(const Interpreter& interpreter, std::ostream* os) { *os << interpreter.name; }

inline const Interpreter interpreters[] = {
    {"Debian311", "/usr/bin/python3.11", "", "3.11"},
    {"Pyenv38", "/root/.pyenv/versions/3.8.18/bin/python3.8", "/root/.pyenv/versions/3.8.18", "3.8"},
    {"Pyenv39", "/root/.pyenv/versions/3.9.18/bin/python3.9", "/root/.pyenv/versions/3.9.18", "3.9"},
    {"Pyenv310", "/root/.pyenv/versions/3.10.13/bin/python3.10", "/root/.pyenv/versions/3.10.13", "3.10"},
    {"Pyenv311", "/root/.pyenv/versions/3.11.7/bin/python3.11", "/root/.pyenv/versions/3.11.7", "3.11"},
    {"Pyenv312", "/root/.pyenv/versions/3.12.1/bin/python3.12", "/root/.pyenv/versions/3.12.1", "3.12"},
    {"Pyenv313", "/root/.pyenv/versions/3.13.0/bin/python3.13", "/root/.pyenv/versions/3.13.0", "3.13"},
};

// A test run on each of them: a missing build fails with what it is, not with a puzzling error.
class OnEachInterpreter : public ::testing::TestWithParam<Interpreter> {
protected:
    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(GetParam().path))
            << GetParam().path << " is part of this machine (tools/setup.sh documents the pyenv builds)";
    }
};
