// The few type traits the freestanding image needs (-nostdinc++ leaves out <type_traits>).
#pragma once

namespace hv {

template <class A, class B> inline constexpr bool is_same_v = false;
template <class A> inline constexpr bool is_same_v<A, A> = true;
template <class A, class B> concept same_as = is_same_v<A, B> && is_same_v<B, A>;

} // namespace hv
