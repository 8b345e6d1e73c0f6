//! Modes that never return: each must be stopped by a limit of the host. `black_box` keeps
//! the optimiser from removing or simplifying them.

use std::hint::black_box;

/// The size of each block the `membomb` mode allocates.
const BLOCK_BYTES: usize = 1024 * 1024;

/// `loop`: spins until the host's time limit stops it.
pub fn spin() -> ! {
    let mut counter = 0_u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// `membomb`: allocates 1 MiB blocks, writes every byte and keeps them all, until the host's
/// memory limit stops it.
pub fn exhaust_memory() -> ! {
    let mut blocks = Vec::new();
    loop {
        let mut block = vec![0_u8; BLOCK_BYTES];
        block.fill(0xA5);
        blocks.push(black_box(block));
        black_box(&blocks);
    }
}

/// `stack`: recurses with small frames until the WebAssembly call stack, which the host
/// bounds, overflows.
pub fn overflow_stack() -> ! {
    let depth = recurse(0);
    unreachable!("recursion ended at depth {depth}")
}

/// `stack-frames`: recurses with large frames, which Rust keeps in linear memory (its
/// "shadow stack"), until that stack runs out below address 0.
pub fn overflow_shadow_stack() -> ! {
    let depth = recurse_with_frames(0);
    unreachable!("recursion ended at depth {depth}")
}

/// Recurses without end; the addition after the call keeps it from becoming a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(depth)
}

/// Recurses without end, with a 256-byte frame the optimiser cannot shrink away.
#[inline(never)]
fn recurse_with_frames(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse_with_frames(black_box(depth + 1))
        .wrapping_add(frame[black_box(depth as usize) % frame.len()])
}

/// `trap`: executes the `unreachable` instruction.
pub fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}
