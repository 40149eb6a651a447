"""Tests of bench/gpu/ncu_summary.py on ncu output in the shape ncu prints (ncu's own lines around the CSV, thousands
separators, n/a values, time units, rule rows, a raw page with a units row). Run: python3 -m unittest discover -s
bench/gpu -p 'test_*.py'."""

import unittest

import ncu_summary

HEAD = ('"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device",'
        '"CC","Section Name","Metric Name","Metric Unit","Metric Value","Rule Name","Rule Type","Rule Description",'
        '"Estimated Speedup Type","Estimated Speedup"')


def row(lid, name, section, metric, unit, value, rule="", kind="", text="", speedup=""):
    return (f'"{lid}","4242","ilgpu-style","h","{name}","1","7","(256, 1, 1)","(1024, 2, 1)","0","9.0","{section}",'
            f'"{metric}","{unit}","{value}","{rule}","{kind}","{text}","local","{speedup}"')


DETAILS = "\n".join([
    "==PROF== Connected to process 4242 (/tmp/x/ilgpu-style)",
    HEAD,
    row(0, "Kernel_Product(float*)", "GPU Speed Of Light Throughput", "Duration", "msecond", "1.25"),
    row(0, "Kernel_Product(float*)", "GPU Speed Of Light Throughput", "Compute (SM) Throughput", "%", "71.3"),
    row(0, "Kernel_Product(float*)", "GPU Speed Of Light Throughput", "Memory Throughput", "%", "40.2"),
    row(0, "Kernel_Product(float*)", "GPU Speed Of Light Throughput", "DRAM Throughput", "%", "12.5"),
    row(0, "Kernel_Product(float*)", "Launch Statistics", "Registers Per Thread", "register/thread", "128"),
    row(0, "Kernel_Product(float*)", "Occupancy", "Achieved Occupancy", "%", "24.9"),
    row(0, "Kernel_Product(float*)", "Occupancy", "Theoretical Occupancy", "%", "25"),
    row(0, "Kernel_Product(float*)", "Warp State Statistics", "Warp Cycles Per Issued Instruction", "cycle", "9.8"),
    row(0, "Kernel_Product(float*)", "Compute Workload Analysis", "Issue Slots Busy", "%", "61.7"),
    row(0, "Kernel_Product(float*)", "Scheduler Statistics", "No Eligible", "%", "38.3"),
    row(0, "Kernel_Product(float*)", "Occupancy", "", "", "", "AchievedOccupancy", "OPT",
        "The difference between calculated theoretical (25.0%) and measured achieved occupancy (24.9%)  can be the result of ...", "0.4"),
    row(0, "Kernel_Product(float*)", "Occupancy", "", "", "", "AchievedOccupancy", "OPT",
        "The difference between calculated theoretical (25.0%) and measured achieved occupancy (24.9%)  can be the result of ...", "0.4"),
    row(1, "Kernel_Pad(float*)", "GPU Speed Of Light Throughput", "Duration", "usecond", "1,234.5"),
    row(1, "Kernel_Pad(float*)", "GPU Speed Of Light Throughput", "Compute (SM) Throughput", "%", "n/a"),
    row(1, "Kernel_Pad(float*)", "Launch Statistics", "Registers Per Thread", "register/thread", "16"),
    row(1, "Kernel_Pad(float*)", "Launch Statistics", "", "", "", "LaunchConfiguration", "INF", "Informational only", ""),
    row(2, "Kernel_Product(float*)", "GPU Speed Of Light Throughput", "Duration", "nsecond", "750,000"),
    "==PROF== Disconnected from process 4242",
])

RAW = "\n".join([
    '"ID","Kernel Name","Block Size","smsp__average_warp_latency_issue_stalled_barrier_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",'
    '"smsp__average_warps_issue_stalled_wait_per_issue_active.ratio","gpu__time_duration.sum",'
    '"sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active",'
    '"sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",'
    '"l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum","l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum",'
    '"l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum","l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum",'
    '"smsp__inst_executed.sum","smsp__inst_executed_pipe_tensor_op_hmma.sum"',
    '"","","","ratio","ratio","ratio","ratio","ratio","nsecond","%","%","","","","","inst","inst"',
    '"0","Kernel_Product","(256, 1, 1)","99","1.5","3.25","0.5","2","1,250,000","12.5","41.25","1,000","4,000","30","300","1,210,000","250,000"',
    '"1","Kernel_Pad","(256, 1, 1)","99","0","0.1","6.5","n/a","1,234,500","0","0","0","0","5","n/a","80,000","0"',
])


class NcuSummaryTests(unittest.TestCase):
    def test_details_per_launch(self):
        k = ncu_summary.parse_details(DETAILS)
        self.assertEqual(sorted(k), ["0", "1", "2"])
        self.assertAlmostEqual(k["0"]["duration"], 1250.0)
        self.assertAlmostEqual(k["1"]["duration"], 1234.5)  # thousands separator
        self.assertAlmostEqual(k["2"]["duration"], 750.0)  # nanoseconds
        self.assertEqual((k["0"]["sm"], k["0"]["mem"], k["0"]["dram"]), (71.3, 40.2, 12.5))
        self.assertEqual((k["0"]["regs"], k["0"]["occ"], k["0"]["theo"], k["0"]["cpi"]), (128, 24.9, 25, 9.8))
        self.assertIsNone(k["1"]["sm"])  # n/a
        self.assertEqual((k["0"]["block"], k["0"]["grid"]), ("(256, 1, 1)", "(1024, 2, 1)"))
        self.assertEqual(len(k["0"]["rules"]), 1)  # the repeated rule row once
        self.assertEqual(k["0"]["rules"][0][:3], ("AchievedOccupancy", "OPT", 0.4))

    def test_stalls_largest_first_without_units_row(self):
        s = ncu_summary.parse_stalls(RAW)
        self.assertEqual(sorted(s), ["0", "1"])
        self.assertEqual(s["0"], [("mio_throttle", 3.25), ("wait", 2.0), ("barrier", 1.5), ("long_scoreboard", 0.5)])
        self.assertEqual(s["1"], [("long_scoreboard", 6.5), ("mio_throttle", 0.1)])

    def test_tensor_pipe_and_bank_conflicts_from_the_raw_page(self):
        e = ncu_summary.parse_raw_extras(RAW)
        self.assertEqual(sorted(e), ["0", "1"])
        # The hmma pipe's active cycles before its instruction share; conflicts per wavefront in %.
        self.assertEqual(e["0"], {"tensor": 41.25, "bank_ld": 25.0, "bank_st": 10.0, "per_mma": 4.84})
        self.assertEqual(e["1"], {"tensor": 0.0})  # no wavefronts, no mma: no ratios
        k = ncu_summary.parse_details(DETAILS)
        self.assertEqual((k["0"]["issue"], k["0"]["noelig"]), (61.7, 38.3))
        text = ncu_summary.render(k, ncu_summary.parse_stalls(RAW), extras=e)
        row0 = next(l for l in text.splitlines() if l.split()[:1] == ["0"])
        self.assertIn(" 61.7  38.3  41.2       25/10   4.8 ", row0)
        row2 = next(l for l in text.splitlines() if l.split()[:1] == ["2"])
        self.assertIn("-/-", row2)

    def test_render_orders_by_duration_and_sums_per_kernel(self):
        text = ncu_summary.render(ncu_summary.parse_details(DETAILS), ncu_summary.parse_stalls(RAW))
        lines = text.splitlines()
        self.assertIn("3 launches, 3.235 ms in all", lines[0])
        table = [l for l in lines if l.strip()[:1].isdigit() and "Kernel_" in l]
        self.assertEqual([l.split()[0] for l in table[:3]], ["0", "1", "2"])
        self.assertIn("mio_throttle 3.2", table[0])
        per_name = [l for l in lines if l.strip().startswith("2 ") and "%  Kernel_Product" in l]
        self.assertEqual(len(per_name), 1)
        self.assertIn("2000.0", per_name[0])
        self.assertIn("AchievedOccupancy (0.4)", text)
        self.assertNotIn("Informational only", text)  # INF rules are not hints
        self.assertNotIn("1 Kernel_Pad:", text)

    def test_not_ncu_output(self):
        self.assertEqual(ncu_summary.parse_details("==PROF== no kernels were profiled\n"), {})
        with self.assertRaises(ValueError):
            ncu_summary.parse_details('"ID","Something"\n"0","x"\n')


if __name__ == "__main__":
    unittest.main()
