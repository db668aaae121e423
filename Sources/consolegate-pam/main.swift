#if canImport(Glibc)
import Glibc
#endif

guard let arguments = MonitorArguments(CommandLine.unsafeArgv, count: Int(CommandLine.argc)) else {
    Log.fatal("usage: consolegate-pam --service NAME [--service NAME]... --timeout SECONDS --max-concurrent N (control socket on stdin; started by consolegate)")
}
var monitor = Monitor(arguments: arguments, control: STDIN_FILENO)
monitor.run()
