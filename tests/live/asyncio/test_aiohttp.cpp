// Live: an aiohttp service (Debian's python3-aiohttp 3.8 on /usr/bin/python3.11) under wrk, on
// asyncio's own loop and on uvloop (python3-uvloop): handlers under their request tasks, and the
// wait for a simulated backend charged at its await; the same answers on both loops.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <regex>
#include <set>

#include "live/asyncio/asyncio_support.h"
#include "live/interpreters.h"
#include "test_support.h"

using namespace pyat::test;
using namespace pyat::test::asyncio;

namespace {

const Interpreter debian{"Debian311", "/usr/bin/python3.11", "", "3.11"};

// A TCP port free right now on 127.0.0.1 (the kernel picks it).
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len))
        throw std::runtime_error("no free port");
    close(fd);
    return ntohs(addr.sin_port);
}

struct ServiceRun {
    std::string tracer_err, service_out;
    int tracer_exit = -1;
    std::map<std::string, double> stats;  // the service's ground truth over its whole life
};

// Launches the service for `serve_s` under the tracer with `options`, loads it with wrk (8
// connections) from the moment it is listening until it exits, and returns what it measured.
ServiceRun traced_service(const std::vector<std::string>& options, const std::string& loop, double serve_s) {
    ServiceRun out;
    const std::string port = std::to_string(free_port());
    std::vector<std::string> argv = {binary};
    argv.insert(argv.end(), options.begin(), options.end());
    for (const std::string& a : std::vector<std::string>{"--", debian.path, workload("asyncio_aiohttp_service.py"),
                                                        port, "--exit-after", std::to_string(serve_s)})
        argv.push_back(a);
    if (loop == "uvloop") argv.push_back("--uvloop");
    Child tracer(argv);
    if (!tracer.wait_for_output("ready ", 30)) {
        out.tracer_exit = tracer.wait(10);
        out.tracer_err = "the tracer or the service stopped before the service printed ready; stdout: " + tracer.out() +
                         "\n" + tracer.err();
        return out;
    }
    Child load({"wrk", "-t1", "-c8", "-d" + std::to_string(int(serve_s) + 3) + "s",
                "http://127.0.0.1:" + port + "/report"});
    out.tracer_exit = tracer.wait(60);
    out.tracer_err = tracer.err();
    out.service_out = tracer.out();  // a launched command shares the tracer's stdout
    std::smatch m;
    std::regex stats_re(R"(stats requests (\d+) backend_s ([0-9.]+) render_s ([0-9.]+) handler_s ([0-9.]+))");
    if (std::regex_search(out.service_out, m, stats_re)) {
        out.stats["requests"] = std::stod(m[1]);
        out.stats["backend_s"] = std::stod(m[2]);
        out.stats["render_s"] = std::stod(m[3]);
        out.stats["handler_s"] = std::stod(m[4]);
    }
    return out;
}

class AiohttpService : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        RunResult check = run({debian.path, "-c", "import aiohttp, uvloop"});
        ASSERT_EQ(check.exit_code, 0) << "python3-aiohttp and python3-uvloop are part of this machine "
                                         "(tools/setup.sh installs them): "
                                      << check.err;
    }
};

}  // namespace

// cpu, --group-by task: render_report's samples sit under the handler, under aiohttp's request
// task (RequestHandler._handle_request, awaited by the connection's RequestHandler.start task),
// rooted at a task, with no loop plumbing.
TEST_P(AiohttpService, HandlersSitUnderTheirRequestTasks) {
    const std::string loop = GetParam();
    TempDir dir;
    ServiceRun s = traced_service({"--group-by", "task", "--hz", "199", "-o", dir / "cpu.folded"}, loop, 5);
    ASSERT_EQ(s.tracer_exit, 0) << s.tracer_err;
    ASSERT_NE(s.service_out.find(loop == "uvloop" ? " Loop\n" : " _UnixSelectorEventLoop\n"), std::string::npos)
        << "the service must run on " << loop << ": " << s.service_out;
    ASSERT_GT(s.stats["requests"], 200.0) << "wrk must have loaded the service: " << s.service_out;
    auto folded = read_folded(dir / "cpu.folded");
    const std::string dump = top_stacks(folded, 12);
    const Names plumbing = loop_plumbing(debian);
    const std::regex request_task_root(R"re(task "Task-\d+" \(RequestHandler\.(start|_handle_request)\))re");
    uint64_t rendering = 0, good = 0;
    std::set<std::string> bad;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (!has(names, "render_spin")) continue;
        rendering += n;
        const long handler = consecutive(names, {"handle_report", "render_report", "render_spin"});
        const long request = index_of(names, "RequestHandler._handle_request");
        const bool ok = std::regex_match(split_frames(stack).front(), request_task_root) && handler > request &&
                        request >= 0 && plumbing_in(names, plumbing).empty();
        if (ok)
            good += n;
        else if (bad.size() < 5)
            bad.insert(stack);
    }
    // 5 s of ~2 ms renders at 100-300 requests/s: 1-3 s of CPU.
    ASSERT_GT(rendering, 100u) << dump << s.tracer_err;
    std::string examples;
    for (const auto& b : bad) examples += "  " + b + "\n";
    // uvloop: 90.7-94% measured in 9 runs today: samples whose task is not found go under their
    // thread (never under another task); the standard loop keeps 95%.
    const double share = std::string(GetParam()) == "uvloop" ? 0.88 : 0.95;
    EXPECT_GE(double(good), share * double(rendering))
        << "render_spin samples rooted at task \"Task-N\" (RequestHandler.start or ._handle_request), with "
           "RequestHandler._handle_request above handle_report;render_report;render_spin and no plumbing: "
        << good << " of " << rendering << "; others:\n" << examples << dump;
}

// --clock wall: every handler's wait for the backend is charged at
// handle_report;fetch_from_backend;sleep, and the handlers together weigh what they lasted (the
// service's own sums over the requests it served, all of them inside the traced run), within 10%.
TEST_P(AiohttpService, BackendWaitIsChargedAtTheAwait) {
    const std::string loop = GetParam();
    TempDir dir;
    const unsigned hz = 99;
    ServiceRun s = traced_service({"--clock", "wall", "-o", dir / "wall.folded"}, loop, 5);
    ASSERT_EQ(s.tracer_exit, 0) << s.tracer_err;
    ASSERT_GT(s.stats["requests"], 200.0) << "wrk must have loaded the service: " << s.service_out;
    auto folded = read_folded(dir / "wall.folded");
    const std::string dump = top_stacks(folded, 12);
    uint64_t at_backend = 0, in_handler = 0, under_plumbing = 0;
    for (const auto& [stack, n] : folded) {
        auto names = function_names(stack);
        if (!has(names, "handle_report")) continue;
        in_handler += n;
        if (consecutive(names, {"handle_report", "fetch_from_backend", "sleep"}) >= 0) at_backend += n;
        if (!plumbing_in(names, loop_plumbing(debian)).empty()) under_plumbing += n;
    }
    const double backend = s.stats["backend_s"] * hz, handler = s.stats["handler_s"] * hz;
    EXPECT_NEAR(double(at_backend), backend, 0.10 * backend)
        << "wall at handle_report;fetch_from_backend;sleep vs the service's " << s.stats["backend_s"]
        << " s awaiting the backend (" << s.stats["requests"] << " requests)\n" << dump << s.tracer_err;
    EXPECT_NEAR(double(in_handler), handler, 0.10 * handler)
        << "wall under handle_report vs the service's " << s.stats["handler_s"] << " s in handlers\n" << dump;
    EXPECT_EQ(under_plumbing, 0u) << dump;
}

INSTANTIATE_TEST_SUITE_P(Live, AiohttpService, ::testing::Values("asyncio", "uvloop"),
                         [](const auto& info) { return info.param; });
