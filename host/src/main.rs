fn main() -> std::process::ExitCode {
    s3plug::cli::main()
}
